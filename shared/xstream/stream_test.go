package xstream_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

func tweet(id string) string {
	return `{"data":{"id":"` + id + `","text":"tweet ` + id + `"},"matching_rules":[{"id":"1273636687768285186","tag":"t"}]}`
}

// recorder collects what Stream hands out and cancels the run once a
// message satisfies stop.
type recorder struct {
	mu       sync.Mutex
	messages []string
	sleeps   []time.Duration
	rejected []xstream.Rejected
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

// newStreamClient returns a client for srv whose sleeps are recorded and
// return at once, and a ctx cancelled when a message equal to last arrives.
func newStreamClient(t *testing.T, srv *xstreamtest.Server, last string) (*xstream.Client, *recorder, context.Context, func(xstream.Message) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	rec := &recorder{}
	c := srv.Client()
	c.Logger = slog.New(slog.DiscardHandler)
	c.Sleep = func(ctx context.Context, d time.Duration) error {
		rec.mu.Lock()
		rec.sleeps = append(rec.sleeps, d)
		rec.mu.Unlock()
		return ctx.Err()
	}
	c.OnReject = func(r xstream.Rejected) {
		rec.mu.Lock()
		rec.rejected = append(rec.rejected, r)
		rec.mu.Unlock()
	}
	fn := func(m xstream.Message) error {
		rec.mu.Lock()
		rec.messages = append(rec.messages, string(m.Data))
		rec.mu.Unlock()
		if string(m.Data) == last {
			cancel()
		}
		return nil
	}
	return c, rec, ctx, fn
}

func TestStreamScripts(t *testing.T) {
	op := xstreamtest.OperationalDisconnectLine
	s := time.Second
	tests := []struct {
		name       string
		opts       []xstreamtest.Option
		script     []xstreamtest.Step
		stall      time.Duration
		want       []string
		sleeps     []time.Duration
		reconnects map[xstream.ReconnectReason]int
		truncated  int
	}{
		{
			name:   "keep-alives and messages",
			opts:   []xstreamtest.Option{xstreamtest.WithKeepAlive(5 * time.Millisecond)},
			script: []xstreamtest.Step{xstreamtest.KeepAlive(), xstreamtest.Message(tweet("1")), xstreamtest.KeepAlive(), xstreamtest.Message(tweet("2"))},
			want:   []string{tweet("1"), tweet("2")},
		},
		{
			name: "operational disconnect is passed on, then reconnect",
			script: append(append([]xstreamtest.Step{xstreamtest.Message(tweet("1"))}, xstreamtest.OperationalDisconnect()...),
				xstreamtest.Message(tweet("2"))),
			want:       []string{tweet("1"), op, tweet("2")},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonStreamError: 1},
		},
		{
			name: "disconnect and cut line: all delivered in order, none twice",
			script: []xstreamtest.Step{
				xstreamtest.Message(tweet("1")), xstreamtest.Message(tweet("2")), xstreamtest.Disconnect(),
				xstreamtest.Message(tweet("3")), xstreamtest.CutAndDrop(tweet("4")),
				xstreamtest.Message(tweet("5")),
			},
			want:       []string{tweet("1"), tweet("2"), tweet("3"), tweet("5")},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonServerClosed: 1, xstream.ReasonDropped: 1},
			truncated:  1,
		},
		{
			name: "429 then 503: X's backoff per class",
			script: []xstreamtest.Step{
				xstreamtest.RateLimited(), xstreamtest.RateLimited(), xstreamtest.RateLimited(),
				xstreamtest.Status(503), xstreamtest.Status(503), xstreamtest.Message(tweet("1")),
			},
			want:       []string{tweet("1")},
			sleeps:     []time.Duration{60 * s, 120 * s, 240 * s, 5 * s, 10 * s},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonRateLimited: 3, xstream.ReasonHTTP: 2},
		},
		{
			name: "429 TooManyConnections: a short backoff, for a hand-over X has not noticed yet",
			script: []xstreamtest.Step{
				xstreamtest.Status(429), xstreamtest.Status(429), xstreamtest.Status(429), xstreamtest.Message(tweet("1")),
			},
			want:       []string{tweet("1")},
			sleeps:     []time.Duration{1 * s, 2 * s, 4 * s},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonTooManyConnections: 3},
		},
		{
			name: "backoff resets after a connection that received data",
			script: []xstreamtest.Step{
				xstreamtest.Status(503), xstreamtest.Message(tweet("1")), xstreamtest.Status(503), xstreamtest.Message(tweet("2")),
			},
			want:       []string{tweet("1"), tweet("2")},
			sleeps:     []time.Duration{5 * s, 5 * s},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonHTTP: 2, xstream.ReasonServerClosed: 1},
		},
		{
			name:       "stall: silent connection is dropped and reopened",
			script:     []xstreamtest.Step{xstreamtest.Message(tweet("1")), xstreamtest.Stall(), xstreamtest.Message(tweet("2"))},
			stall:      150 * time.Millisecond,
			want:       []string{tweet("1"), tweet("2")},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonStall: 1},
		},
		{
			name:       "connected but empty response: network backoff",
			opts:       []xstreamtest.Option{xstreamtest.WithCloseWhenDone()},
			script:     []xstreamtest.Step{xstreamtest.Disconnect(), xstreamtest.Disconnect(), xstreamtest.Message(tweet("1"))},
			want:       []string{tweet("1")},
			sleeps:     []time.Duration{250 * time.Millisecond, 500 * time.Millisecond},
			reconnects: map[xstream.ReconnectReason]int{xstream.ReasonServerClosed: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]xstreamtest.Option{xstreamtest.WithScript(tt.script...)}, tt.opts...)
			srv := xstreamtest.NewServer(opts...)
			defer srv.Close()
			c, rec, ctx, fn := newStreamClient(t, srv, tt.want[len(tt.want)-1])
			c.StallTimeout = tt.stall
			if err := c.Stream(ctx, nil, fn); err != nil {
				t.Fatalf("Stream() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, rec.got()); diff != "" {
				t.Errorf("messages mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.sleeps, rec.sleeps); diff != "" {
				t.Errorf("backoff sleeps mismatch (-want +got):\n%s", diff)
			}
			st := c.Stats()
			if diff := cmp.Diff(tt.reconnects, st.Reconnects); diff != "" {
				t.Errorf("reconnects mismatch (-want +got):\n%s", diff)
			}
			if st.Truncated != tt.truncated || len(rec.rejected) != tt.truncated {
				t.Errorf("Stats().Truncated = %d, OnReject calls = %d, want %d", st.Truncated, len(rec.rejected), tt.truncated)
			}
			if st.Messages != len(tt.want) {
				t.Errorf("Stats().Messages = %d, want %d", st.Messages, len(tt.want))
			}
			if got := srv.Stats(); got.MaxConcurrent > 1 || got.TooManyConnections > 0 {
				t.Errorf("server saw %d concurrent connections and %d refused; want at most 1 and 0", got.MaxConcurrent, got.TooManyConnections)
			}
		})
	}
}

func TestStreamCutLineIsReported(t *testing.T) {
	srv := xstreamtest.NewServer(xstreamtest.WithScript(xstreamtest.CutAndDrop(tweet("1")), xstreamtest.Message(tweet("2"))))
	defer srv.Close()
	c, rec, ctx, fn := newStreamClient(t, srv, tweet("2"))
	if err := c.Stream(ctx, nil, fn); err != nil {
		t.Fatalf("Stream() error = %v", err)
	}
	half := tweet("1")[:len(tweet("1"))/2]
	if len(rec.rejected) != 1 || string(rec.rejected[0].Data) != half || !strings.Contains(rec.rejected[0].Reason, "cut off") {
		t.Errorf("OnReject got %+v, want one rejection of %q saying it was cut off", rec.rejected, half)
	}
}

func TestStreamPermanentErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   []xstreamtest.Option
		token  string
		status int
	}{
		{name: "401 wrong token", token: "wrong", status: http.StatusUnauthorized},
		{name: "403 not enrolled", opts: []xstreamtest.Option{xstreamtest.WithForbidden()}, status: http.StatusForbidden},
		{name: "400 scripted", opts: []xstreamtest.Option{xstreamtest.WithScript(xstreamtest.Status(400))}, status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := xstreamtest.NewServer(tt.opts...)
			defer srv.Close()
			c, rec, ctx, fn := newStreamClient(t, srv, "")
			if tt.token != "" {
				c.Token = tt.token
			}
			err := c.Stream(ctx, nil, fn)
			var ae *xstream.APIError
			if !errors.As(err, &ae) || ae.StatusCode != tt.status {
				t.Fatalf("Stream() error = %v, want an *APIError with status %d", err, tt.status)
			}
			if got := srv.Stats().StreamRequests; got != 1 || len(rec.sleeps) != 0 {
				t.Errorf("Stream() made %d requests and %d sleeps, want 1 and 0 (no retry)", got, len(rec.sleeps))
			}
		})
	}
}

func TestStreamSecondConnectionGets429(t *testing.T) {
	srv := xstreamtest.NewServer(xstreamtest.WithConcurrencyGrace(50*time.Millisecond),
		xstreamtest.WithScript(xstreamtest.Message(tweet("1"))))
	defer srv.Close()

	// The first client holds the stream open until the test ends.
	first := srv.Client()
	ctx1, cancel1 := context.WithCancel(testContext(t))
	defer cancel1()
	connected := make(chan struct{})
	var once sync.Once
	done1 := make(chan error, 1)
	go func() {
		done1 <- first.Stream(ctx1, nil, func(m xstream.Message) error {
			once.Do(func() { close(connected) })
			return nil
		})
	}()
	select {
	case <-connected:
	case <-ctx1.Done():
		t.Fatal("first stream never received its message")
	}

	second, rec, ctx2, fn2 := newStreamClient(t, srv, "")
	ctx2, cancel2 := context.WithCancel(ctx2)
	defer cancel2()
	second.Sleep = func(ctx context.Context, d time.Duration) error {
		rec.sleeps = append(rec.sleeps, d)
		cancel2() // one refusal is enough to see
		return ctx.Err()
	}
	if err := second.Stream(ctx2, nil, fn2); err != nil {
		t.Errorf("second Stream() error = %v, want nil", err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, rec.sleeps); diff != "" {
		t.Errorf("second stream sleeps mismatch (-want +got):\n%s", diff)
	}
	if got := srv.Stats(); got.TooManyConnections != 1 || got.MaxConcurrent != 1 {
		t.Errorf("server stats = %+v, want 1 refused connection and max 1 concurrent", got)
	}
	cancel1()
	if err := <-done1; err != nil {
		t.Errorf("first Stream() error = %v, want nil", err)
	}
}

func TestStreamDeadlineEndsWithNil(t *testing.T) {
	srv := xstreamtest.NewServer(xstreamtest.WithKeepAlive(5 * time.Millisecond))
	defer srv.Close()
	c := srv.Client()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	params := url.Values{"tweet.fields": {"created_at,author_id"}, "expansions": {"author_id"}}
	err := c.Stream(ctx, params, func(xstream.Message) error { return nil })
	if err != nil {
		t.Errorf("Stream() at deadline = %v, want nil", err)
	}
	if st := c.Stats(); st.KeepAlives == 0 || st.Connections != 1 {
		t.Errorf("Stats() = %+v, want keep-alives counted on 1 connection", st)
	}
	if q := srv.StreamQueries(); len(q) != 1 || q[0].Get("tweet.fields") != "created_at,author_id" || q[0].Get("expansions") != "author_id" {
		t.Errorf("server saw queries %v, want the params passed through", q)
	}
}

func TestStreamCallbackErrorStops(t *testing.T) {
	srv := xstreamtest.NewServer(xstreamtest.WithScript(xstreamtest.Messages(tweet("1"), tweet("2"))...))
	defer srv.Close()
	errStop := errors.New("stop")
	calls := 0
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := srv.Client()
	c.Now = func() time.Time { return at }
	var got xstream.Message
	err := c.Stream(testContext(t), nil, func(m xstream.Message) error { calls++; got = m; return errStop })
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("Stream() = %v after %d calls, want %v after 1", err, calls, errStop)
	}
	if want := (xstream.Message{Data: []byte(tweet("1")), ReceivedAt: at}); !cmp.Equal(want, got) {
		t.Errorf("first message = %+v, want %+v", got, want)
	}
}

func TestStreamNetworkErrorBackoff(t *testing.T) {
	// A port with nothing listening: every dial fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	var sleeps []time.Duration
	c := &xstream.Client{BaseURL: "http://" + addr, Token: "t", Sleep: func(ctx context.Context, d time.Duration) error {
		sleeps = append(sleeps, d)
		if len(sleeps) == 4 {
			cancel()
		}
		return ctx.Err()
	}}
	if err := c.Stream(ctx, nil, func(xstream.Message) error { return nil }); err != nil {
		t.Errorf("Stream() = %v, want nil", err)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond, time.Second}
	if diff := cmp.Diff(want, sleeps); diff != "" {
		t.Errorf("network backoff mismatch (-want +got):\n%s", diff)
	}
}
