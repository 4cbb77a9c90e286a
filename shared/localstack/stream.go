package localstack

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// StreamOptions configure the local X API that StreamTweets reads.
type StreamOptions struct {
	// Lines are raw stream messages; a v2 error object (`{"errors":[...]}`) is sent as X does
	// before an operational disconnect, and the connection is dropped after it.
	Lines []string
	// Rules are the stream rules StreamTweets keeps in sync (X_STREAM_RULES).
	Rules []map[string]string
	// Duration is how long one StreamTweets run reads (STREAM_DURATION, default
	// DefaultStreamDuration).
	Duration time.Duration
}

// DefaultStreamDuration is the local STREAM_DURATION. StreamTweets keeps a 2 s margin and (until
// its read window starts after the lease) spends part of the rest taking the lease and syncing
// rules, which took over 3 s on a busy machine: 8 s leaves the stream a few seconds even then.
const DefaultStreamDuration = 8 * time.Second

// startStream starts the local X API with the lines as its script and returns StreamTweets'
// environment for it.
func (s *Stack) startStream(o Options) map[string]string {
	var steps []xstreamtest.Step
	for _, l := range o.Stream.Lines {
		if strings.HasPrefix(strings.TrimSpace(l), `{"errors"`) {
			steps = append(steps, xstreamtest.OperationalDisconnect()...)
			continue
		}
		steps = append(steps, xstreamtest.Message(l))
	}
	s.XStream = xstreamtest.NewServer(xstreamtest.WithScript(steps...), xstreamtest.WithKeepAlive(time.Second),
		xstreamtest.WithConcurrencyGrace(200*time.Millisecond))
	d := o.Stream.Duration
	if d == 0 {
		d = DefaultStreamDuration
	}
	rules, _ := json.Marshal(o.Stream.Rules)
	env := map[string]string{
		"X_BEARER_TOKEN":  s.XStream.Token(),
		"X_API_BASE_URL":  s.XStream.URL(),
		"STREAM_DURATION": d.String(),
		// Short, so that a lease stranded by a run that timed out while taking it (a busy
		// machine) expires before the demo runs StreamTweets again.
		"LEASE_TTL": "10s",
	}
	if len(o.Stream.Rules) > 0 {
		env["X_STREAM_RULES"] = string(rules)
	}
	return env
}
