package xstreamtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// readNumbers connects with params and returns the first n numbers received.
func readNumbers(t *testing.T, s *Server, params url.Values, n int) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []int64
	c := s.Client()
	err := c.Stream(ctx, params, func(m xstream.Message) error {
		var tw struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &tw); err != nil {
			t.Errorf("numbered line %s: %v", m.Data, err)
			cancel()
			return nil
		}
		id, _ := strconv.ParseInt(tw.Data.ID, 10, 64)
		got = append(got, id)
		if len(got) == n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Stream() error = %v", err)
	}
	if len(got) < n {
		t.Fatalf("received %d numbers within 30 s, want %d", len(got), n)
	}
	return got
}

// TestNumberedStream: numbers arrive in order without holes while connected, a later
// connection starts at what is being posted now (what was posted in between is gone, as on X),
// and backfill_minutes replays the last minutes.
func TestNumberedStream(t *testing.T) {
	s := NewServer(WithNumberedStream(5 * time.Millisecond))
	defer s.Close()
	first := readNumbers(t, s, nil, 20)
	for i := 1; i < len(first); i++ {
		if first[i] != first[i-1]+1 {
			t.Errorf("numbers %v have a hole at %d", first, i)
			break
		}
	}
	// Wait on the thing: until numbers have been posted past the first connection.
	deadline := time.Now().Add(30 * time.Second)
	for s.NumberedPosted() < first[len(first)-1]+20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	second := readNumbers(t, s, nil, 1)
	if second[0] <= first[len(first)-1]+1 {
		t.Errorf("second connection started at %d, want past %d (missed numbers are not replayed)", second[0], first[len(first)-1]+1)
	}
	back := readNumbers(t, s, url.Values{"backfill_minutes": {"1"}}, 1)
	if back[0] != 1 {
		t.Errorf("backfill_minutes=1 within the first minute started at %d, want 1", back[0])
	}
	if st := s.Stats(); st.MaxConcurrent != 1 {
		t.Errorf("max concurrent = %d, want 1", st.MaxConcurrent)
	}
}

func TestNumberedStreamRefusesBadBackfill(t *testing.T) {
	s := NewServer(WithNumberedStream(time.Second))
	defer s.Close()
	for _, v := range []string{"0", "6", "two"} {
		err := s.Client().Stream(t.Context(), url.Values{"backfill_minutes": {v}}, func(xstream.Message) error { return nil })
		var ae *xstream.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
			t.Errorf("backfill_minutes=%s: Stream() error = %v, want X's 400", v, err)
		}
	}
}
