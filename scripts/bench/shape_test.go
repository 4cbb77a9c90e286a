package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTenthRates(t *testing.T) {
	s := func(sec float64, n int) progressSample {
		return progressSample{at: time.Duration(sec * float64(time.Second)), finished: n}
	}
	tests := []struct {
		name    string
		samples []progressSample
		planned int
		want    []float64
	}{
		{
			name: "steady 10/s after a 5 s start, sampled every second",
			samples: func() []progressSample {
				out := []progressSample{s(0, 0), s(4, 0)}
				for i := 0; i <= 100; i++ {
					out = append(out, s(5+float64(i)/10, i))
				}
				return out
			}(),
			planned: 100,
			// The first sample with a finished task (1 at 5.1 s) starts the first tenth: 9 tasks in 0.9 s.
			want: []float64{10, 10, 10, 10, 10, 10, 10, 10, 10, 10},
		},
		{
			name:    "slowing down: the last tenth takes four times as long",
			samples: []progressSample{s(0, 0), s(1, 1), s(2, 10), s(3, 20), s(4, 30), s(5, 40), s(6, 50), s(7, 60), s(8, 70), s(9, 80), s(10, 90), s(14, 100)},
			planned: 100,
			want:    []float64{9, 10, 10, 10, 10, 10, 10, 10, 10, 2.5},
		},
		{
			name:    "interpolated between sparse samples",
			samples: []progressSample{s(0, 0), s(1, 50), s(11, 100)},
			planned: 100,
			// 50 done at 1 s: tenths 1-5 all fall before the first sample with a finished task,
			// and take the rate of the next measured tenth (5 tasks/s from 1 s on).
			want: []float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5},
		},
		{name: "not finished", samples: []progressSample{s(0, 0), s(1, 50)}, planned: 100},
		{name: "no samples", planned: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tenthRates(tt.samples, tt.planned)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("tenthRates mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
