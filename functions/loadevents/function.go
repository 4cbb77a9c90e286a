// Package loadevents is the LoadEvents function: triggered by Pub/Sub (a push subscription's
// request, or an Eventarc CloudEvent; see shared/pushdelivery), it validates each event and
// writes it to its BigQuery table through the Storage Write API, or to the dead-letter table with
// the reason when it can never load.
//
// Reference: docs/event-contract.md.
package loadevents

import (
	"context"
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// EntryPoint is the name the function is registered and deployed under.
const EntryPoint = "LoadEvents"

func init() {
	// An HTTP function, not a CloudEvent one: Terraform deploys a plain push subscription, whose
	// body the framework's conversion would strip of its subscription and deliveryAttempt, and
	// those fill the dead-letter columns (see pushdelivery.EventFromRequest).
	functions.HTTP(EntryPoint, pushdelivery.Handler(EntryPoint, loader.Get, logging.Default()))
}

// Config is the loader's configuration, read from the environment.
type Config struct {
	Project string // GOOGLE_CLOUD_PROJECT
	Dataset string // BIGQUERY_DATASET
}

// LoadConfig reads the Config through lookup.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{Project: env.Required("GOOGLE_CLOUD_PROJECT"), Dataset: env.Required("BIGQUERY_DATASET")}
	return c, env.Err()
}

// loader is this instance's Loader. The Storage Write client is created on the first event
// rather than in init, so a cold start never dials; a failed creation is not kept: the next
// event tries again (and the failed one is retried by Pub/Sub).
var loader = lazy.NewValue(func(ctx context.Context) (*Loader, error) {
	log := logging.Default()
	cfg, err := LoadConfig(os.LookupEnv)
	if err != nil {
		log.Error("LoadEvents is misconfigured", "error", err)
		return nil, err
	}
	w, err := warehouse.New(ctx, cfg.Project, cfg.Dataset, schemas.Table, log, warehouse.WriteClientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("starting the loader: %w", err)
	}
	return NewLoader(w, nil, log), nil
})
