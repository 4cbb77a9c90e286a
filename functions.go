// Package pipelinekit is the root package the Go buildpack deploys: Cloud Functions builds the
// repository root and serves the entry point named by --entry-point (FUNCTION_TARGET). It only
// imports the function packages, whose init() functions register one entry point each.
//
// Reference: docs/deploying.md.
package pipelinekit

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "github.com/pipelinekit/pipelinekit/functions/backfill"
	_ "github.com/pipelinekit/pipelinekit/functions/collectevents"
	_ "github.com/pipelinekit/pipelinekit/functions/loadevents"
	_ "github.com/pipelinekit/pipelinekit/functions/runbackfilltask"
	_ "github.com/pipelinekit/pipelinekit/functions/serverankings"
	_ "github.com/pipelinekit/pipelinekit/functions/streamtweets"
	_ "github.com/pipelinekit/pipelinekit/functions/updaterankings"
)
