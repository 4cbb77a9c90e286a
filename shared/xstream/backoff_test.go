package xstream

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoffSequences(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		next func(*backoffState) time.Duration
		want []time.Duration
	}{
		{"network errors: +250ms up to 16s", (*backoffState).networkError,
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}},
		{"http errors: 5s doubling up to 320s", (*backoffState).httpError,
			[]time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 320 * s, 320 * s}},
		{"429: 1min doubling, capped at 16min", (*backoffState).rateLimited,
			[]time.Duration{60 * s, 120 * s, 240 * s, 480 * s, 960 * s, 960 * s}},
		{"429 TooManyConnections: 1s doubling, capped at 1min", (*backoffState).busy,
			[]time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 60 * s, 60 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackoffState(Backoff{})
			var got []time.Duration
			for range tt.want {
				got = append(got, tt.next(bs))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("backoff sequence mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackoffNetworkCapAndReset(t *testing.T) {
	bs := newBackoffState(Backoff{})
	var last time.Duration
	for range 100 {
		last = bs.networkError()
	}
	if last != 16*time.Second {
		t.Errorf("network backoff after 100 errors = %v, want 16s", last)
	}
	bs.httpError()
	bs.reset()
	if got := bs.networkError(); got != 250*time.Millisecond {
		t.Errorf("network backoff after reset = %v, want 250ms", got)
	}
	if got := bs.httpError(); got != 5*time.Second {
		t.Errorf("http backoff after reset = %v, want 5s", got)
	}
}
