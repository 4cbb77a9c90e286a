package rankings

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkApply applies b.N tweet entries (a hot hashtag in each) from 250 goroutines, as an
// instance at its concurrency does: go test -bench Apply -benchtime 2000x ./shared/rankings.
func BenchmarkApply(b *testing.B) {
	s := newStoreB(b)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 250 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				e := tweet(fmt.Sprint(9000000+i), 0, fmt.Sprint("m", i), "hot", fmt.Sprint("tag", i%500))
				if err := s.Apply(context.Background(), e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	st := s.Stats()
	b.ReportMetric(float64(st.Events)/float64(max(st.Groups, 1)), "events/group")
}

// BenchmarkApplyMarkersOnly is the floor: events that count nowhere but still write their
// marker, one document each, 250 goroutines.
func BenchmarkApplyMarkersOnly(b *testing.B) {
	s := newStoreB(b)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 250 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				e := Entry{Key: fmt.Sprint("e:", i), PublishTime: t0, MessageID: fmt.Sprint(i)}
				if err := s.Apply(context.Background(), e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
