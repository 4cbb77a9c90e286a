package xstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Message is one JSON message received on the stream: a tweet with its
// includes and matching_rules, or a stream error object
// ({"errors":[{"title":"operational-disconnect",...}]}).
type Message struct {
	// Data is the message exactly as X sent it, without the "\r\n".
	Data []byte
	// ReceivedAt is when the last byte of the message arrived.
	ReceivedAt time.Time
}

// ReconnectReason says why Stream opened a new connection.
type ReconnectReason string

// Reasons counted in StreamStats.Reconnects.
const (
	// ReasonNetwork: the connection could not be made (TCP/IP, TLS, DNS).
	ReasonNetwork ReconnectReason = "network_error"
	// ReasonHTTP: X answered with a retryable HTTP error (5xx and others).
	ReasonHTTP ReconnectReason = "http_error"
	// ReasonRateLimited: X answered 429 for a rate limit.
	ReasonRateLimited ReconnectReason = "rate_limited"
	// ReasonTooManyConnections: X answered 429 TooManyConnections: another connection of the
	// app is open, or X has not yet noticed that the last one closed (a hand-over).
	ReasonTooManyConnections ReconnectReason = "too_many_connections"
	// ReasonStall: nothing, not even a keep-alive, arrived within StallTimeout.
	ReasonStall ReconnectReason = "stall"
	// ReasonStreamError: X sent an error object (e.g. operational-disconnect).
	ReasonStreamError ReconnectReason = "stream_error"
	// ReasonDropped: the connection broke while reading.
	ReasonDropped ReconnectReason = "connection_dropped"
	// ReasonServerClosed: X ended the response cleanly.
	ReasonServerClosed ReconnectReason = "server_closed"
)

// StreamStats counts what Stream did, over all Stream calls of a Client.
type StreamStats struct {
	// Connections counts connections that got HTTP 200.
	Connections int
	// Messages counts messages handed to fn, stream error objects included.
	Messages int
	// StreamErrors counts the stream error objects among Messages.
	StreamErrors int
	// KeepAlives counts keep-alive blank lines.
	KeepAlives int
	// Truncated counts lines cut off when a connection dropped.
	Truncated int
	// Rejected counts all lines not handed out (Truncated included).
	Rejected int
	// Bytes counts body bytes read.
	Bytes int64
	// Reconnects counts reconnects by reason.
	Reconnects map[ReconnectReason]int
}

// Stats returns a snapshot of the stream counters.
func (c *Client) Stats() StreamStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Reconnects = maps.Clone(c.stats.Reconnects)
	return s
}

func (c *Client) count(f func(*StreamStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.stats)
}

// Stream connects to GET /2/tweets/search/stream with params (tweet.fields,
// expansions, user.fields, ...) and calls fn with each message, in order,
// until ctx is done; then it returns nil, because reaching the deadline is
// how a bounded collection run ends.
//
// It reconnects by itself, following Backoff: after a stall, a dropped
// connection, a clean end of the response, or a stream error object (which
// is passed to fn first, so it can be recorded). It never holds two
// connections: the old one is closed before the next is opened, since X
// answers 429 TooManyConnections otherwise. A line cut off by a drop is
// reported through OnReject and StreamStats, not passed to fn.
//
// Stream returns an error only when retrying cannot help (401 bad token, 403
// not enrolled, 400 bad params; an *APIError) or when fn returns an error,
// which stops the stream and is returned wrapped.
func (c *Client) Stream(ctx context.Context, params url.Values, fn func(Message) error) error {
	log := c.logger()
	bs := newBackoffState(c.Backoff)
	for {
		if ctx.Err() != nil {
			return nil
		}
		res := c.connectOnce(ctx, params, fn)
		if ctx.Err() != nil {
			return nil // whatever broke, it broke because the run is over
		}
		if res.fatal != nil {
			return res.fatal
		}
		var wait time.Duration
		switch {
		case res.reason == ReasonNetwork:
			wait = bs.networkError()
		case res.reason == ReasonHTTP:
			wait = bs.httpError()
		case res.reason == ReasonRateLimited:
			wait = bs.rateLimited()
		case res.reason == ReasonTooManyConnections:
			wait = bs.busy()
		case res.productive:
			// X: "Once an established connection drops, attempt to
			// reconnect immediately."
			bs.reset()
		case res.reason == ReasonStreamError:
			// An error object and nothing else: X is refusing us, not the
			// network; wait like for an HTTP error.
			wait = bs.httpError()
		default:
			// Connected but got nothing: treat like a network failure.
			wait = bs.networkError()
		}
		c.count(func(s *StreamStats) {
			if s.Reconnects == nil {
				s.Reconnects = make(map[ReconnectReason]int)
			}
			s.Reconnects[res.reason]++
		})
		log.Warn("x stream reconnecting", "reason", string(res.reason), "wait", wait, "status", res.status,
			"productive", res.productive, "error", errString(res.cause))
		if wait > 0 {
			if err := c.sleep(ctx, wait); err != nil {
				return nil // ctx done while backing off
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// connResult is how one connection ended.
type connResult struct {
	reason     ReconnectReason
	productive bool  // received a keep-alive or a message other than an error object
	status     int   // HTTP status, 0 if none
	cause      error // what broke, for logs
	fatal      error // stop Stream with this error
}

// connectOnce runs one connection from request to end. The connection is
// closed (body closed, request context cancelled) before it returns, which
// is what keeps Stream to one connection at a time.
func (c *Client) connectOnce(ctx context.Context, params url.Values, fn func(Message) error) connResult {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stall := c.stallTimeout()
	var stalled atomic.Bool
	// The timer also covers waiting for the response headers.
	timer := time.AfterFunc(stall, func() { stalled.Store(true); cancel() })
	defer timer.Stop()

	req, err := c.newRequest(connCtx, http.MethodGet, StreamPath, params, nil)
	if err != nil {
		return connResult{fatal: err}
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if stalled.Load() {
			return connResult{reason: ReasonStall, cause: err}
		}
		return connResult{reason: ReasonNetwork, cause: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		apiErr := newAPIError(resp.StatusCode, b)
		switch {
		case apiErr.Permanent():
			return connResult{status: resp.StatusCode, fatal: fmt.Errorf("connecting to %s: %w", StreamPath, apiErr)}
		case resp.StatusCode == http.StatusTooManyRequests && apiErr.ConnectionIssue == "TooManyConnections":
			return connResult{reason: ReasonTooManyConnections, status: resp.StatusCode, cause: apiErr}
		case resp.StatusCode == http.StatusTooManyRequests:
			return connResult{reason: ReasonRateLimited, status: resp.StatusCode, cause: apiErr}
		default:
			return connResult{reason: ReasonHTTP, status: resp.StatusCode, cause: apiErr}
		}
	}
	c.count(func(s *StreamStats) { s.Connections++ })
	c.logger().Info("x stream connected", "url", req.URL.Redacted())
	timer.Reset(stall)

	res := connResult{status: resp.StatusCode}
	body := &activityReader{r: resp.Body, onRead: func(n int) {
		timer.Reset(stall)
		c.count(func(s *StreamStats) { s.Bytes += int64(n) })
	}}
	lr := newLineReader(body, MaxLineBytes)
	for {
		ln, err := lr.next()
		if ln.size > 0 || err == nil {
			msg, rej, keepAlive := classifyLine(ln)
			switch {
			case keepAlive:
				res.productive = true
				c.count(func(s *StreamStats) { s.KeepAlives++ })
			case rej != nil:
				if !ln.terminated {
					rej.Reason = "line cut off when the connection ended: " + rej.Reason
				}
				c.reject(*rej, !ln.terminated)
			case msg != nil:
				isErr := isStreamError(msg)
				if !isErr {
					res.productive = true
				}
				c.count(func(s *StreamStats) {
					s.Messages++
					if isErr {
						s.StreamErrors++
					}
				})
				if err := fn(Message{Data: msg, ReceivedAt: c.now()}); err != nil {
					return connResult{fatal: fmt.Errorf("handling stream message: %w", err)}
				}
				if isErr {
					// X closes the connection after an error object; close
					// our side now rather than wait for it.
					res.reason, res.cause = ReasonStreamError, errors.New(string(truncate(msg, 512)))
					return res
				}
			}
			continue
		}
		res.cause = err
		switch {
		case stalled.Load():
			res.reason = ReasonStall
		case errors.Is(err, io.EOF):
			res.reason = ReasonServerClosed
		default:
			res.reason = ReasonDropped
		}
		return res
	}
}

func (c *Client) reject(r Rejected, truncated bool) {
	c.count(func(s *StreamStats) {
		s.Rejected++
		if truncated {
			s.Truncated++
		}
	})
	c.logger().Warn("x stream line rejected", "reason", r.Reason, "bytes", len(r.Data))
	if c.OnReject != nil {
		c.OnReject(r)
	}
}

// isStreamError reports whether msg is an error object rather than a tweet:
// it has "errors" and no "data" (a tweet may carry partial "errors" beside
// its "data"). The cheap byte check spares decoding every tweet twice.
func isStreamError(msg []byte) bool {
	if !bytes.Contains(msg, []byte(`"errors"`)) {
		return false
	}
	var probe struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(msg, &probe); err != nil {
		return false
	}
	return probe.Data == nil && probe.Errors != nil
}

// activityReader reports every successful read, to feed the stall timer.
type activityReader struct {
	r      io.Reader
	onRead func(n int)
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.onRead(n)
	}
	return n, err
}
