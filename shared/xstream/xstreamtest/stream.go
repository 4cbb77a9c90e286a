package xstreamtest

import (
	"net/http"
	"time"
)

// stepKind is what a Step does.
type stepKind int

const (
	stepMessage stepKind = iota
	stepKeepAlive
	stepDisconnect
	stepCut
	stepStatus
	stepStall
)

// Step is one entry of the stream script. The script is shared by all
// connections: a step consumed on one connection is not replayed on the
// next, so after a disconnect the stream goes on where it stopped, like X
// (which does not replay what a dropped client missed).
type Step struct {
	kind   stepKind
	line   []byte
	status int
}

// Message sends line followed by "\r\n". line is sent as is: give it the
// exact bytes X would send.
func Message(line string) Step { return Step{kind: stepMessage, line: []byte(line)} }

// Messages is Message for several lines.
func Messages(lines ...string) []Step {
	steps := make([]Step, len(lines))
	for i, l := range lines {
		steps[i] = Message(l)
	}
	return steps
}

// KeepAlive sends one extra keep-alive "\r\n" at this point.
func KeepAlive() Step { return Step{kind: stepKeepAlive} }

// Disconnect ends the current response cleanly (the client sees EOF).
func Disconnect() Step { return Step{kind: stepDisconnect} }

// CutAndDrop sends the first half of line, without "\r\n", then breaks the
// connection, as when a network path fails mid-message.
func CutAndDrop(line string) Step { return Step{kind: stepCut, line: []byte(line)} }

// OperationalDisconnectLine is the error object X sends before closing a
// stream for operational reasons (from the 2021 twarc capture, compact).
const OperationalDisconnectLine = `{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect","detail":"This stream has been disconnected for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}`

// OperationalDisconnect sends X's operational-disconnect error object, then
// closes the connection, as X does.
func OperationalDisconnect() []Step {
	return []Step{Message(OperationalDisconnectLine), Disconnect()}
}

// Status answers the next connection with HTTP status code and X's error
// body for it (e.g. 503, 429, 401). Reached in the middle of a stream, it
// first ends that stream.
func Status(code int) Step { return Step{kind: stepStatus, status: code} }

// RateLimitedLine is the body of X's 429 for a rate limit (not a connection limit), in the
// about:blank shape X uses for status problems.
const RateLimitedLine = `{"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"}`

// RateLimited answers the next connection 429 with a rate-limit body, which, unlike
// Status(429)'s TooManyConnections, has no connection_issue.
func RateLimited() Step {
	return Step{kind: stepStatus, status: http.StatusTooManyRequests, line: []byte(RateLimitedLine)}
}

// Stall makes the stream go silent, keep-alives included, until the client
// gives up on the connection. The next connection goes on with the script.
func Stall() Step { return Step{kind: stepStall} }

// Enqueue appends steps to the script; open streams send them at once.
func (s *Server) Enqueue(steps ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, steps...)
	s.notifyLocked()
}

// Remaining reports how many script steps have not been played yet.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script) - s.cursor
}

// notifyLocked wakes every goroutine waiting for a change. Callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// admit waits up to the grace period for an open stream to go away and
// reports whether this connection may become the one open stream.
func (s *Server) admit(r *http.Request) bool {
	deadline := time.NewTimer(s.grace)
	defer deadline.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.live > 0 {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-deadline.C:
			s.mu.Lock()
			if s.live > 0 {
				return false
			}
		case <-r.Context().Done():
			s.mu.Lock()
			return false
		case <-s.done:
			s.mu.Lock()
			return false
		}
	}
	s.live++
	s.stats.ConnectionsOpened++
	s.stats.MaxConcurrent = max(s.stats.MaxConcurrent, s.live)
	s.notifyLocked()
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live--
	s.notifyLocked()
}

func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.StreamRequests++
	s.streamQuery = append(s.streamQuery, r.URL.Query())
	s.mu.Unlock()
	if !s.authorize(w, r) {
		return
	}
	if badBackfill(r) {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"errors": []map[string]any{{"parameters": map[string][]string{"backfill_minutes": r.URL.Query()["backfill_minutes"]},
				"message": "The `backfill_minutes` query parameter value [" + r.URL.Query().Get("backfill_minutes") + "] is not one of [1,2,3,4,5]"}},
			"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
			"type": "https://api.twitter.com/2/problems/invalid-request",
		})
		return
	}
	// A scripted status answers before the connection counts as open.
	s.mu.Lock()
	if s.cursor < len(s.script) && s.script[s.cursor].kind == stepStatus {
		step := s.script[s.cursor]
		s.cursor++
		s.notifyLocked()
		s.mu.Unlock()
		if step.line != nil {
			writeJSONRaw(w, step.status, string(step.line))
			return
		}
		writeProblem(w, step.status)
		return
	}
	s.mu.Unlock()
	if !s.admit(r) {
		s.mu.Lock()
		s.stats.TooManyConnections++
		s.mu.Unlock()
		writeProblem(w, http.StatusTooManyRequests)
		return
	}
	defer s.leave()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() bool { return rc.Flush() == nil }
	if !flush() {
		return
	}
	var keepAlive <-chan time.Time
	if s.keep > 0 {
		t := time.NewTicker(s.keep)
		defer t.Stop()
		keepAlive = t.C
	}
	write := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		return flush()
	}
	if s.numberEvery > 0 {
		s.serveNumbered(w, r, write, keepAlive)
		return
	}
	for {
		s.mu.Lock()
		var (
			step    Step
			have    bool
			changed = s.changed
		)
		if s.cursor < len(s.script) {
			step, have = s.script[s.cursor], true
			if step.kind != stepStatus { // a status is for the next connection
				s.cursor++
			}
			s.notifyLocked()
		}
		s.mu.Unlock()

		if !have {
			if s.closeW {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			case <-keepAlive:
				if !write([]byte("\r\n")) {
					return
				}
			case <-changed:
			}
			continue
		}
		switch step.kind {
		case stepMessage:
			if s.every > 0 && !s.pause(r, s.every) {
				return
			}
			line := make([]byte, 0, len(step.line)+2)
			if !write(append(append(line, step.line...), '\r', '\n')) {
				return
			}
		case stepKeepAlive:
			if !write([]byte("\r\n")) {
				return
			}
		case stepDisconnect, stepStatus:
			return
		case stepCut:
			write(step.line[:len(step.line)/2])
			// Abort the connection without ending the chunked body, so the
			// client sees a broken connection, not a clean end.
			panic(http.ErrAbortHandler)
		case stepStall:
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return
		}
		// Keep-alives also flow between messages, as on X.
		select {
		case <-keepAlive:
			if !write([]byte("\r\n")) {
				return
			}
		default:
		}
	}
}

// pause waits d unless the client leaves or the server closes.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}
