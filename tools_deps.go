// Code that keeps the project's pinned dependencies in go.mod while packages are being written.

package pipelinekit

import (
	_ "cloud.google.com/go/bigquery"
	_ "cloud.google.com/go/bigquery/storage/managedwriter"
	_ "cloud.google.com/go/cloudtasks/apiv2"
	_ "cloud.google.com/go/firestore"
	_ "cloud.google.com/go/pubsub/v2"
	_ "cloud.google.com/go/secretmanager/apiv1"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/cloudevents/sdk-go/v2/event"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/hashicorp/hcl/v2/hclparse"
	_ "github.com/marcboeker/go-duckdb"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/time/rate"
	_ "google.golang.org/api/youtubeanalytics/v2"
)
