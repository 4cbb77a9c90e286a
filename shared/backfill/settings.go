package backfill

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// SettingKind says how a source's setting is read from the environment.
type SettingKind int

const (
	// Text is a string, empty when unset.
	Text SettingKind = iota
	// URL is an absolute URL (a base URL override pointing a client at a local fake).
	URL
	// List is a comma-separated list.
	List
	// Secret is a credential: <Env>_SECRET names its Secret Manager version (what a deployed
	// function reads), or <Env> holds the value itself, for local runs only (a deployed
	// function, where K_SERVICE is set, refuses it: anyone who can read the service would see
	// it). At most one of the two is set.
	Secret
)

// Setting is one environment variable a source declares. The functions' configurations read
// every registered source's settings in one loop (ReadSettings), so a source's variable keeps
// one spelling in Go, Terraform and docs/configuration.md without the core naming it.
type Setting struct {
	// Env is the variable's name (for a Secret, the local one; the deployed one adds _SECRET).
	Env  string
	Kind SettingKind
	// Spec is true when the Backfill function needs the setting to validate a spec (an
	// allow-list of hosts); the worker reads every setting.
	Spec bool
}

// Credential is a Secret setting as read (config.Env.Credential): a Secret Manager version
// name in production, or the value itself for local runs.
type Credential = config.Credential

// Value is one setting as read.
type Value struct {
	Text   string     // Text and URL settings
	List   []string   // List settings
	Secret Credential // Secret settings
}

// Settings are one source's settings as read, by Env.
type Settings map[string]Value

// Text is a Text or URL setting ("" when unset).
func (s Settings) Text(env string) string { return s[env].Text }

// List is a List setting (nil when unset).
func (s Settings) List(env string) []string { return s[env].List }

// Credential is a Secret setting.
func (s Settings) Credential(env string) Credential { return s[env].Secret }

// SourceSettings are every source's settings, by source name.
type SourceSettings map[string]Settings

// SettingsChecker is a Source whose settings go together (a grant of three secrets): it says
// which setting is wrong, and why, when they do not.
type SettingsChecker interface {
	CheckSettings(s Settings) (env string, err error)
}

// ReadSettings reads every registered source's declared settings from env: only those with
// Spec set when spec is true (the Backfill function), all of them otherwise (the worker).
// A Secret is read by config.Env.Credential (refused as a value where the function runs
// deployed). Problems are recorded in env, each naming its variable. Only settings
// that are set are kept (an unset one reads as its zero Value); nil when none is.
func ReadSettings(env *config.Env, spec bool) SourceSettings {
	var out SourceSettings
	read := map[string]Value{} // a setting two sources share (a Google grant) is read once
	for _, src := range registered {
		s := Settings{}
		for _, st := range src.Settings() {
			if spec && !st.Spec {
				continue
			}
			v, ok := read[st.Env]
			if !ok {
				v = readSetting(env, st)
				read[st.Env] = v
			}
			if !v.zero() {
				s[st.Env] = v
			}
		}
		if c, ok := src.(SettingsChecker); ok && !spec {
			if name, err := c.CheckSettings(s); err != nil {
				env.Fail(name, "%v", err)
			}
		}
		if len(s) > 0 {
			if out == nil {
				out = SourceSettings{}
			}
			out[src.Name()] = s
		}
	}
	return out
}

func (v Value) zero() bool { return v.Text == "" && len(v.List) == 0 && !v.Secret.Set() }

func readSetting(env *config.Env, st Setting) Value {
	switch st.Kind {
	case URL:
		return Value{Text: env.URL(st.Env, "")}
	case List:
		return Value{List: env.List(st.Env, nil)}
	case Secret:
		return Value{Secret: env.Credential(st.Env, false)}
	default:
		return Value{Text: env.String(st.Env, "")}
	}
}

// SecretResolver reads secret versions; *secrets.Resolver is one.
type SecretResolver interface {
	Resolve(ctx context.Context, name string) (string, error)
	Forget(names ...string)
}

// EventPublisher publishes messages to the events topic and waits for each;
// *publish.Publisher is one.
type EventPublisher interface {
	PublishAll(ctx context.Context, msgs []publish.Message) []error
}

// Deps are what the worker hands a source's fetcher constructor: the source's settings and the
// generic dependencies every source may use.
type Deps struct {
	// Settings are the source's own declared settings, as read.
	Settings Settings
	// Secrets reads Secret settings' versions (nil when none is configured).
	Secrets SecretResolver
	// Events publishes to the events topic (nil when EVENTS_TOPIC is unset).
	Events EventPublisher
	// AllowPrivateHosts lets a source reach private addresses (ALLOW_PRIVATE_HOSTS); local only.
	AllowPrivateHosts bool
	// APITimeout bounds one API request (API_TIMEOUT).
	APITimeout time.Duration
	// Transport carries the API requests; nil means the default (tests point it at fakes).
	Transport http.RoundTripper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits (a source's pacing); nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger is the worker's; never nil when the worker builds the fetcher.
	Logger *slog.Logger
}

// Fetchers builds every registered source's fetcher with d, each given its own settings
// (from all, by source name): the worker's fetchers, by source name.
func Fetchers(d Deps, all SourceSettings) map[string]Fetcher {
	out := make(map[string]Fetcher, len(registered))
	for _, src := range registered {
		sd := d
		sd.Settings = all[src.Name()]
		if sd.Logger == nil {
			sd.Logger = slog.Default()
		}
		out[src.Name()] = src.NewFetcher(sd)
	}
	return out
}
