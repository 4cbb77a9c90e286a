package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPubSubBillsAtLeast1000BytesARequest(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{{0, 1000}, {999, 1000}, {1000, 1000}, {1001, 1001}} {
		if got := billed(tt.in); got != tt.want {
			t.Errorf("billed(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestCostCountsDispatchAttemptsOnly checks the backfill's Cloud Tasks line: a create per task
// and an operation per dispatch attempt (the answers' statuses), not the bench's "kept" tally.
func TestCostCountsDispatchAttemptsOnly(t *testing.T) {
	r := &CostResult{
		Loader:   &LoaderResult{MsgsPerS: 1000, P50Ms: 27, InFlight: 80},
		Rankings: &RankingsResult{Events: 100, EventsPS: 1000, InFlight: 250, Ops: FirestoreOps{Writes: 141, Docs: 101}},
		Backfill: &BackfillResult{Tasks: 1000, Rows: 1000, LatencyMs: 100, Dispatches: map[string]int{"200": 1000, "503": 10, "kept": 1000},
			FirestoreOps: &FirestoreOps{Writes: 3000}},
	}
	r.price(144000)
	var got []CostLine
	for _, u := range r.Units {
		for _, l := range u.Lines {
			if l.Service == "Cloud Tasks" || (l.Service == "Firestore" && l.What == "writes") {
				got = append(got, l)
			}
		}
	}
	want := []CostLine{
		{Service: "Firestore", What: "writes", Quantity: 1.41e6, Unit: "writes", USD: 2.538, Measured: true, Note: "1.410 per event"},
		{Service: "Cloud Tasks", What: "task creates + dispatch attempts", Quantity: 144 * 2010, Unit: "operations", USD: 0.40 * 144 * 2010 / 1e6, Measured: true, Note: "each task under 32 KB"},
		{Service: "Firestore", What: "writes", Quantity: 432000, Unit: "writes", USD: 0.7776, Measured: true},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("cost lines (-want +got):\n%s", diff)
	}
}
