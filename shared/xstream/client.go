package xstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is the X API host used when Client.BaseURL is empty.
const DefaultBaseURL = "https://api.x.com"

// DefaultStallTimeout is how long Stream waits without a byte before it
// declares the connection stalled: X sends a keep-alive every 20 seconds
// (https://docs.x.com/x-api/fundamentals/handling-disconnections), plus a
// 10-second margin for network jitter.
const DefaultStallTimeout = 30 * time.Second

// Paths of the v2 filtered-stream endpoints, relative to BaseURL.
const (
	StreamPath = "/2/tweets/search/stream"
	RulesPath  = "/2/tweets/search/stream/rules"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Client talks to the X API v2 filtered stream and its rules endpoint with
// an app-only bearer token. The zero value of every field but Token has a
// usable default. A Client must not be copied after first use.
type Client struct {
	// BaseURL is the API origin; empty means DefaultBaseURL. Tests point it
	// at xstreamtest.Server.URL().
	BaseURL string
	// HTTP sends the requests; nil means a client without a timeout (a
	// timeout would cut the long-lived stream; Stream has its own stall
	// detection and rules calls follow ctx).
	HTTP *http.Client
	// Token is the app-only bearer token.
	Token string
	// Logger receives connection and reconnect logs; nil means slog.Default().
	Logger *slog.Logger
	// StallTimeout is how long the stream may stay silent (no message and
	// no keep-alive) before it is reconnected; zero means DefaultStallTimeout.
	StallTimeout time.Duration
	// Backoff is the reconnect policy; the zero value is X's documented one.
	Backoff Backoff
	// Sleep waits d or until ctx is done; nil means a real timer. Tests
	// inject one to assert the backoff without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps Message.ReceivedAt; nil means time.Now.
	Now func() time.Time
	// OnReject is called for each stream line that is not handed to fn: a
	// line cut off when the connection dropped, invalid JSON, or an
	// over-long line. They are also counted in StreamStats.
	OnReject func(Rejected)

	mu    sync.Mutex
	stats StreamStats
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout > 0 {
		return c.StallTimeout
	}
	return DefaultStallTimeout
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) endpoint(path string, q url.Values) string {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path, q), rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s request: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("User-Agent", "pipelinekit-xstream")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// doJSON sends a request and decodes a 2xx JSON body into out; any other
// status becomes an *APIError.
func (c *Client) doJSON(ctx context.Context, method, path string, q url.Values, body, out any) (int, error) {
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return 0, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, fmt.Errorf("calling %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, fmt.Errorf("calling %s %s: %w", method, path, newAPIError(resp.StatusCode, b))
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("decoding %s %s response: %w", method, path, err)
	}
	return resp.StatusCode, nil
}
