package localstack

import (
	"context"
	"net"

	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/emulators/iamcheck"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// Names of the local resources. Terraform's defaults are the same names.
const (
	DefaultProject  = "pipelinekit-local"
	DefaultDataset  = "events"
	EventsTopic     = "events"
	DeadLetterTopic = "events-dead-letter"
	LoaderSub       = "events-loader"
	// JobEventsTopic is where Backfill publishes a notice when a job ends (shared/jobnotice).
	JobEventsTopic = "backfill-job-events"
)

// emulatorStartTimeout bounds a Java emulator's start: on a busy 2-core machine it has taken
// over a minute.
const emulatorStartTimeout = gcloudemu.DefaultStartTimeout

// Options configure a Stack.
type Options struct {
	Project string
	Dataset string
	// Logs receives the output of the emulators and the functions process; nil discards it.
	Logs io.Writer
	Log  *slog.Logger
	// LoaderInFlight bounds the forwarder's concurrent deliveries to LoadEvents (default 64),
	// as Eventarc does with a function's concurrency.
	LoaderInFlight int
	// FunctionsBinary is a prebuilt scripts/functions binary; empty builds one.
	FunctionsBinary string
	// FunctionsEnv adds environment variables to the functions process.
	FunctionsEnv map[string]string
	// Backfill, when set, starts the backfill half of the stack too.
	Backfill *BackfillOptions
	// Stream, when set, starts a local X API that streams these raw lines to StreamTweets.
	Stream *StreamOptions
	// DataDir, when set, keeps the local BigQuery's tables (a DuckDB file) and the Firestore
	// emulator's documents (its export, imported at the next start) in this directory.
	DataDir string
	// Rankings delivers the rankings' filtered subscription to UpdateRankings (and starts
	// Firestore), so that ServeRankings serves them.
	Rankings bool
	// RankingsCache keeps ServeRankings' production cache (RANKINGS_CACHE_TTL unset: each
	// instance reuses a ranking for its default TTL); without it every answer is computed fresh,
	// which the checks against SQL want. `dev --serve` sets it, so what a person tries is what
	// is deployed.
	RankingsCache bool
	// AuthEmulatorHost, with Rankings, runs ServeRankings with sign-in on (DECK_AUTH=firebase)
	// against the Firebase Auth emulator at this host:port (authemu.Run); the stack's own
	// clients then read it with StackUser's ID token (docs/sign-in.md). `dev --serve` sets it.
	AuthEmulatorHost string
	// Unchecked turns off the production checks (as PIPELINEKIT_CHECKS=off does): the functions
	// then reach the servers directly, unrefused by IAM and Firestore's limits.
	Unchecked bool
	// EditBindings, when set, changes Terraform's IAM bindings before the checks use them: a
	// test removes a role to see the call that needs it refused.
	EditBindings func([]iamcheck.Binding) []iamcheck.Binding
}

// Stack is the streaming pipeline on this machine: the Pub/Sub emulator, the local BigQuery,
// the functions process, and the forwarder that delivers the loader's subscription to LoadEvents.
type Stack struct {
	Project, Dataset string
	PubSubHost       string
	FirestoreHost    string
	XStream          *xstreamtest.Server
	BigQuery         *bqemulator.Server
	Functions        *FunctionSet
	PubSub           *pubsub.Client
	BQ               *bigquery.Client
	Forwarder        *Forwarder
	Publisher        *publish.Publisher
	Backfill         *BackfillParts
	// BigQueryHost is the local BigQuery's host:port: ours (BigQuery is then set) or the one
	// BIGQUERY_EMULATOR_HOST named.
	BigQueryHost string
	// External names the servers the stack reused instead of starting, by their variable.
	External map[string]string
	Rankings *RankingsParts
	// Identities are the functions' checking proxies; nil when the checks are off.
	Identities *Identities

	log         *slog.Logger
	env         map[string]string
	viewsKey    []byte       // ServeRankings' recent-views token key (RECENT_VIEWS_KEY)
	tokens      *stackTokens // StackUser's ID token; nil with sign-in off
	pubsubEm    *gcloudemu.Emulator
	firestoreEm *gcloudemu.Emulator
	tmp         string
	restoreEnv  map[string]*string
	dataDir     string
	// namedLoaded is set once the named Firestore databases were loaded from dataDir, so that a
	// start that failed before never overwrites what the last run saved.
	namedLoaded bool
	// editedBindings: the test removed roles on purpose, so refusals are expected.
	editedBindings bool
	stopFwd        context.CancelFunc
	fwdDone        chan error
}

// Start brings the stack up. A server already named by PUBSUB_EMULATOR_HOST,
// FIRESTORE_EMULATOR_HOST, BIGQUERY_EMULATOR_HOST or CLOUD_TASKS_EMULATOR_HOST is reused when it
// answers (and the log says so); otherwise one is started and stopped with the stack.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Project == "" {
		o.Project = DefaultProject
	}
	if o.Dataset == "" {
		o.Dataset = DefaultDataset
	}
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.LoaderInFlight == 0 {
		o.LoaderInFlight = 64
	}
	s := &Stack{Project: o.Project, Dataset: o.Dataset, log: o.Log, dataDir: o.DataDir, editedBindings: o.EditBindings != nil}
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the data directory: %w", err)
		}
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	var ok bool
	if s.PubSubHost, ok = s.reuse(ctx, "PUBSUB_EMULATOR_HOST", "Pub/Sub emulator", gcloudemu.Ping); !ok {
		o.Log.Info("starting the Pub/Sub emulator")
		s.pubsubEm, err = gcloudemu.Start(ctx, gcloudemu.PubSub, gcloudemu.WithOutput(o.Logs), gcloudemu.WithStartTimeout(emulatorStartTimeout))
		if err != nil {
			return nil, err
		}
		s.PubSubHost = s.pubsubEm.Host
	}
	// The official clients find the emulators through the environment, as in the functions.
	s.setenv("PUBSUB_EMULATOR_HOST", s.PubSubHost)

	if o.Backfill != nil || o.Stream != nil || o.Rankings {
		if s.FirestoreHost, ok = s.reuse(ctx, "FIRESTORE_EMULATOR_HOST", "Firestore emulator", gcloudemu.Ping); !ok {
			o.Log.Info("starting the Firestore emulator")
			if s.firestoreEm, err = gcloudemu.Start(ctx, gcloudemu.Firestore, o.firestoreOptions()...); err != nil {
				return nil, err
			}
			s.FirestoreHost = s.firestoreEm.Host
			if o.DataDir != "" {
				if err = loadNamedDatabases(ctx, s.FirestoreHost, o.Project, o.DataDir); err != nil {
					return nil, err
				}
				s.namedLoaded = true // from now on Close may write them: nothing of them is lost
			}
		}
		s.setenv("FIRESTORE_EMULATOR_HOST", s.FirestoreHost)
	}

	if s.BigQueryHost, ok = s.reuse(ctx, warehouse.EmulatorHostEnv, "BigQuery server", pingHTTP); !ok {
		o.Log.Info("starting the local BigQuery")
		if s.BigQuery, err = bqemulator.NewServer(o.bigQueryOptions()...); err != nil {
			return nil, fmt.Errorf("starting the local BigQuery: %w", err)
		}
		s.BigQueryHost = s.BigQuery.Addr()
	}
	s.setenv(warehouse.EmulatorHostEnv, s.BigQueryHost)

	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	if o.Backfill != nil && o.Backfill.Queue == (QueueConfig{}) {
		if o.Backfill.Queue, err = DefaultQueueConfig(); err != nil {
			return nil, err
		}
	}
	if s.PubSub, err = pubsub.NewClient(ctx, o.Project); err != nil {
		return nil, fmt.Errorf("creating the Pub/Sub client: %w", err)
	}
	if s.BQ, err = bigquery.NewClient(ctx, o.Project, warehouse.RESTClientOptions()...); err != nil {
		return nil, fmt.Errorf("creating the BigQuery client: %w", err)
	}
	if err := s.createResources(ctx); err != nil {
		return nil, err
	}

	bin := o.FunctionsBinary
	if bin == "" {
		o.Log.Info("building the functions")
		if s.tmp, err = os.MkdirTemp("", "pipelinekit-stack-"); err != nil {
			return nil, err
		}
		if bin, err = BuildFunctions(ctx, root, s.tmp); err != nil {
			return nil, err
		}
	}
	// The front door's listener is held from here, so that nothing started before the functions
	// (the checking proxies, the fakes, the emulators) can take its port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the functions: %w", err)
	}
	defer func() {
		if s.Functions == nil {
			ln.Close()
		}
	}()
	functionsURL := "http://" + ln.Addr().String()
	env := map[string]string{
		"GOOGLE_CLOUD_PROJECT":    o.Project,
		"BIGQUERY_DATASET":        o.Dataset,
		"EVENTS_TOPIC":            EventsTopic,
		"JOB_EVENTS_TOPIC":        JobEventsTopic,
		"PUBSUB_EMULATOR_HOST":    s.PubSubHost,
		warehouse.EmulatorHostEnv: s.BigQueryHost,
	}
	if s.FirestoreHost != "" {
		env["FIRESTORE_EMULATOR_HOST"] = s.FirestoreHost
	}
	if o.Stream != nil {
		for k, v := range s.startStream(o) {
			env[k] = v
		}
	}
	if o.Backfill != nil {
		benv, err := s.startBackfill(ctx, o, functionsURL)
		if err != nil {
			return nil, err
		}
		for k, v := range benv {
			env[k] = v
		}
	}
	if o.Rankings {
		if !o.RankingsCache {
			env["RANKINGS_CACHE_TTL"] = "0s" // every answer fresh, for the checks against SQL
		}
		// ServeRankings' recent-views key: fresh per stack, so no key is ever in the repository;
		// the stack mints its users' tokens with it (ViewToken).
		if s.viewsKey, err = newViewsKey(); err != nil {
			return nil, err
		}
		env["RECENT_VIEWS_KEY"] = string(s.viewsKey)
		// The deck's health panel reads the stack's own health endpoint (HealthURL).
		env["DECK_HEALTH_URL"] = functionsURL + StackPath + "health"
		if o.AuthEmulatorHost != "" {
			for k, v := range signInEnv(o.AuthEmulatorHost) {
				env[k] = v
			}
			s.tokens = &stackTokens{host: o.AuthEmulatorHost}
		}
	}
	for k, v := range o.FunctionsEnv {
		env[k] = v
	}
	// A deck given a write key loads collect.js from this stack's CollectEvents.
	if env["DECK_COLLECT_KEY"] != "" && env["DECK_COLLECT_URL"] == "" {
		env["DECK_COLLECT_URL"] = functionsURL + "/CollectEvents"
	}
	if !o.checksOff() {
		if err := s.startIdentities(ctx, o); err != nil {
			return nil, err
		}
	} else {
		o.Log.Warn("production checks are off: the functions' calls are not checked against Terraform's roles or Firestore's limits")
	}
	o.Log.Info("starting the functions")
	s.env = env
	if s.Functions, err = StartFunctionSetOn(ctx, bin, ln, env, s.functionEnv, o.Logs); err != nil {
		return nil, err
	}
	s.Functions.Handle("health", http.HandlerFunc(s.serveHealth))

	s.Publisher = publish.New(s.PubSub, EventsTopic, publish.DefaultSettings())
	target, err := s.pushURL(LoaderSub)
	if err != nil {
		return nil, err
	}
	_, loader, err := subscriptionOptions(LoaderSub)
	if err != nil {
		return nil, err
	}
	s.Forwarder = NewForwarder(s.PubSub, publish.SubscriptionName(o.Project, LoaderSub), target, o.LoaderInFlight, loader.AckDeadline, loader.MaxDeliveryAttempts, o.Log)
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopFwd, s.fwdDone = cancel, make(chan error, 1)
	go func() { s.fwdDone <- s.Forwarder.Run(fctx) }()
	if o.Rankings {
		if err := s.startRankings(ctx, o); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// RestartFunctions kills the functions' processes at once, as crashed instances die, and starts
// them again behind the same address with the same environment.
func (s *Stack) RestartFunctions(ctx context.Context) error {
	if err := s.Functions.Restart(ctx); err != nil {
		return fmt.Errorf("restarting the functions: %w", err)
	}
	return nil
}

func (s *Stack) createResources(ctx context.Context) error {
	for _, t := range []string{EventsTopic, DeadLetterTopic, JobEventsTopic} {
		if err := publish.EnsureTopic(ctx, s.PubSub, s.Project, t); err != nil {
			return err
		}
	}
	// The subscription Terraform declares, but for pull: the forwarder delivers it as push does.
	topic, opts, err := subscriptionOptions(LoaderSub)
	if err != nil {
		return err
	}
	if err := publish.EnsureSubscription(ctx, s.PubSub, s.Project, LoaderSub, topic, opts); err != nil {
		return err
	}
	return warehouse.EnsureDataset(ctx, s.BQ, s.Dataset)
}

// Close stops everything the stack started, in reverse order.
func (s *Stack) Close() error {
	var errs []error
	if s.stopFwd != nil {
		s.stopFwd()
		errs = append(errs, <-s.fwdDone)
	}
	if s.Rankings != nil {
		errs = append(errs, s.Rankings.close())
	}
	if s.Publisher != nil {
		s.Publisher.Stop()
	}
	if s.Functions != nil {
		s.Functions.Stop()
	}
	if s.Identities != nil {
		errs = append(errs, s.Identities.close())
		// Any refusal is a call that fails deployed: every test on a stack fails with it,
		// unless the test changed the bindings to see one.
		if refused := s.Identities.Refused(); len(refused) > 0 && !s.editedBindings {
			errs = append(errs, refusedError(refused))
		}
	}
	if s.PubSub != nil {
		errs = append(errs, s.PubSub.Close())
	}
	if s.BQ != nil {
		errs = append(errs, s.BQ.Close())
	}
	if s.BigQuery != nil {
		errs = append(errs, s.BigQuery.Close())
	}
	if s.Backfill != nil {
		errs = append(errs, s.Backfill.close()...)
	}
	if s.XStream != nil {
		s.XStream.Close()
	}
	if s.pubsubEm != nil {
		errs = append(errs, s.pubsubEm.Stop())
	}
	if s.firestoreEm != nil {
		if s.dataDir != "" {
			errs = append(errs, exportFirestore(context.Background(), s.FirestoreHost, s.Project, filepath.Join(s.dataDir, firestoreExportDir)))
			if s.namedLoaded {
				errs = append(errs, saveNamedDatabases(context.Background(), s.FirestoreHost, s.Project, s.dataDir))
			}
		}
		errs = append(errs, s.firestoreEm.Stop())
	}
	if s.tmp != "" {
		errs = append(errs, os.RemoveAll(s.tmp))
	}
	for k, v := range s.restoreEnv {
		if v == nil {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, *v)
		}
	}
	return errors.Join(errs...)
}

// FunctionsEnv returns a copy of what Start added to the functions process's environment: the
// configuration of a function instance against this stack's servers.
func (s *Stack) FunctionsEnv() map[string]string {
	out := make(map[string]string, len(s.env))
	for k, v := range s.env {
		out[k] = v
	}
	return out
}
