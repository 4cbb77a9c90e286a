package xstreamtest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// WithNumberedStream makes the stream continuous and numbered, to measure coverage: tweet n
// (id n, text "numbered n") is posted at the server's start + n*every, whether or not a client
// is connected, and a connection receives the tweets posted while it is open, as on X. A
// connection asking for backfill_minutes=k (1 to 5) first receives the tweets posted in the k
// minutes before it connected. The script is not played. Time is time.Now, so a test in a
// testing/synctest bubble runs it on the bubble's clock.
func WithNumberedStream(every time.Duration) Option {
	return func(s *Server) { s.numberEvery = every }
}

// WithListener serves on ln instead of a new loopback TCP listener: for example an in-memory
// listener inside a testing/synctest bubble, where real sockets would keep the clock still.
func WithListener(ln net.Listener) Option { return func(s *Server) { s.listener = ln } }

// NumberedPosted returns how many numbered tweets have been posted so far.
func (s *Server) NumberedPosted() int64 { return s.postedBy(time.Now()) }

// NumberedLine is the message line of numbered tweet n.
func NumberedLine(n int64) string {
	return fmt.Sprintf(`{"data":{"id":"%d","text":"numbered %d","author_id":"1","lang":"en"},"matching_rules":[{"id":"1","tag":"numbered"}]}`, n, n)
}

// postedBy is the number of the last tweet posted at or before t.
func (s *Server) postedBy(t time.Time) int64 {
	if t.Before(s.start) {
		return 0
	}
	return int64(t.Sub(s.start) / s.numberEvery)
}

// startServer starts the HTTP server on s.listener, or on a new loopback listener.
func (s *Server) startServer(h http.Handler) {
	if s.listener == nil {
		s.srv = httptest.NewServer(h)
		return
	}
	s.srv = &httptest.Server{Listener: s.listener, Config: &http.Server{Handler: h}}
	s.srv.Start()
}

// serveNumbered streams the numbered tweets to one open connection until it ends.
func (s *Server) serveNumbered(w http.ResponseWriter, r *http.Request, write func([]byte) bool, keepAlive <-chan time.Time) {
	next := s.postedBy(time.Now()) + 1
	if v := r.URL.Query().Get("backfill_minutes"); v != "" {
		k, _ := strconv.Atoi(v) // checked before the 200
		next = max(1, s.postedBy(time.Now().Add(-time.Duration(k)*time.Minute))+1)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		due := s.start.Add(time.Duration(next) * s.numberEvery)
		if !due.After(time.Now()) {
			if !write([]byte(NumberedLine(next) + "\r\n")) {
				return
			}
			next++
			continue
		}
		timer.Reset(time.Until(due))
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-keepAlive:
			if !write([]byte("\r\n")) {
				return
			}
		case <-timer.C:
		}
	}
}

// badBackfill reports a backfill_minutes X would refuse (not an integer from 1 to 5).
func badBackfill(r *http.Request) bool {
	v, ok := r.URL.Query()["backfill_minutes"]
	if !ok {
		return false
	}
	k, err := strconv.Atoi(v[0])
	return err != nil || k < 1 || k > 5
}
