// Package loadevents is the LoadEvents function: triggered by Pub/Sub (an Eventarc CloudEvent,
// or a push body that the Functions Framework converts to one), it validates each event and
// writes it to its BigQuery table through the Storage Write API, or to the dead-letter table with
// the reason when it can never load.
package loadevents

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// EntryPoint is the name the function is registered and deployed under.
const EntryPoint = "LoadEvents"

func init() {
	functions.CloudEvent(EntryPoint, handle)
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

// instance holds the Loader of this function instance. The Storage Write client is created on
// the first event rather than in init, so a cold start never dials; a failed creation is kept
// for no one: the next event tries again.
var instance struct {
	mu     sync.Mutex
	loader *Loader
}

func handle(ctx context.Context, e cloudevents.Event) error {
	l, err := loader(ctx)
	if err != nil {
		return err // Retried: configuration or client creation may succeed next time.
	}
	return l.Handle(ctx, e)
}

func loader(ctx context.Context) (*Loader, error) {
	instance.mu.Lock()
	defer instance.mu.Unlock()
	if instance.loader != nil {
		return instance.loader, nil
	}
	log := logging.Default()
	cfg, err := LoadConfig(os.LookupEnv)
	if err != nil {
		log.Error("LoadEvents is misconfigured", "error", err)
		return nil, err
	}
	// The client outlives this request: it must not be tied to the request's context.
	w, err := warehouse.New(context.WithoutCancel(ctx), cfg.Project, cfg.Dataset, schemas.Table, log, warehouse.WriteClientOptions()...)
	if err != nil {
		return nil, fmt.Errorf("starting the loader: %w", err)
	}
	instance.loader = NewLoader(w, nil, log)
	return instance.loader, nil
}
