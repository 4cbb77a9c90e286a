package backfill

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
)

// seedShards stores outcomes for the job's shards [0, planned) as the store lays them out: a
// shard document per task in state(i) ("" writes none) and the counts in one counter document,
// stamped now. It writes in bulk, which is far faster than one outcome commit per task, and
// leaves the read counter at zero.
func (h *harness) seedShards(t *testing.T, id string, planned int, now time.Time, state func(int) string) {
	t.Helper()
	job := h.fs.Collection(backfill.Collection).Doc(id)
	b := h.fs.BulkWriter(t.Context())
	counts := map[string]any{"updated_at": now}
	n := map[string]int{}
	for i := range planned {
		st := state(i)
		if st == "" {
			continue
		}
		n[st]++
		doc := map[string]any{"index": i, "shard": fmt.Sprintf("id=%05d", i), "state": st, "attempts": 1, "updated_at": now}
		if _, err := b.Set(job.Collection("shards").Doc(backfill.ShardDocID(i)), doc); err != nil {
			t.Fatalf("seeding shard %d: %v", i, err)
		}
	}
	for k, v := range n {
		counts[k] = v
	}
	if _, err := b.Set(job.Collection("counters").Doc("0"), counts, firestore.MergeAll); err != nil {
		t.Fatalf("seeding counters: %v", err)
	}
	b.End()
	h.reads.Reset()
}

// A sweep holds one page of shard documents at a time, not the job's every shard: no query it
// makes returns more than ShardPageSize documents (found: the sweep read all of a job's shard
// documents in one query, 2,600 bytes each, so a job of about 190,000 tasks or more took more
// than Backfill's 512 MiB).
func TestSweepReadsShardsInPages(t *testing.T) {
	const tasks = 3 * backfill.ShardPageSize
	h := newHarness(t, harnessOptions{paused: true, slice: tasks})
	spec := httpSpec(tasks, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	lost := map[int]bool{10: true, tasks - 1: true}
	h.seedShards(t, plan.JobID, tasks, time.Now(), func(i int) string {
		if lost[i] {
			return backfill.ShardRetrying
		}
		return backfill.ShardSucceeded
	})
	h.lose(t, 10, tasks-1)

	got := h.sweep(t, plan.JobID)
	if got.Unfinished != 2 || got.Reenqueued != 2 || got.Checked != 2 {
		t.Errorf("sweep = %+v, want 2 unfinished, checked and re-enqueued", got)
	}
	if most := h.reads.LargestCall(); most > backfill.ShardPageSize {
		t.Errorf("the sweep's largest query returned %d documents, want at most ShardPageSize (%d)", most, backfill.ShardPageSize)
	}
	queued := h.queued()
	for i := range lost {
		if _, ok := queued[h.enq.TaskName(sweepTaskName(plan.JobID, 1, i))]; !ok {
			t.Errorf("no sweep task for shard %d in the queue", i)
		}
	}
}

// statusReads bounds the documents one status call reads when it does not sweep: the job, its
// counters and its latest quota report (no failures in these tests).
func statusReads(h *harness) int64 { return int64(1 + h.cfg.CounterShards + 1) }

// sweepingStatusReads bounds a status call that sweeps: the status, the claim's read of the job,
// the sweep's, its walk and two reads per shard it checks, and the status again.
func sweepingStatusReads(h *harness) int64 {
	return 2*statusReads(h) + 2 + statusSweepReadBudget + 2*statusSweepBudget
}

// A status call of a quiet job costs a bounded number of reads whatever the job's size: one
// status call per SWEEP_AFTER sweeps it, within a read budget, and concurrent calls claim that
// turn once (found: each status call of a quiet job of up to 10,000 tasks read every shard
// document, about 10,000 reads a call while the deck polls every 5 s).
func TestStatusCallReadsAreBounded(t *testing.T) {
	const tasks = 10_000
	clk := fakeclock.New(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	h := newHarness(t, harnessOptions{paused: true, slice: tasks, sweepAfter: 15 * time.Minute, clock: clk.Now})
	spec := httpSpec(tasks, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	// Waiting on quota: the last shards are retrying with their tasks queued.
	h.seedShards(t, plan.JobID, tasks, clk.Now(), func(i int) string {
		if i >= tasks-20 {
			return backfill.ShardRetrying
		}
		return backfill.ShardSucceeded
	})
	status := func() int64 {
		before := h.reads.Reads()
		var st backfill.Status
		if code := h.do(t, http.MethodGet, "/backfills/"+plan.JobID, "", nil, nil, &st); code != http.StatusOK || st.State != backfill.JobRunning {
			t.Errorf("GET status = %d %s, want 200 running", code, st.State)
		}
		return h.reads.Reads() - before
	}

	clk.Advance(20 * time.Minute) // quiet
	for call := range 5 {
		bound := statusReads(h)
		if call == 0 {
			bound = sweepingStatusReads(h) // this call claims the sweep
		}
		n := status()
		t.Logf("status call %d read %d documents", call+1, n)
		if n > bound {
			t.Errorf("status call %d of a quiet %d-task job read %d documents, want at most %d", call+1, tasks, n, bound)
		}
	}

	clk.Advance(20 * time.Minute) // the next turn: status calls at once sweep it once
	h.reads.Reset()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { status() })
	}
	wg.Wait()
	n, bound := h.reads.Reads(), 5*(statusReads(h)+1)+sweepingStatusReads(h)
	t.Logf("5 concurrent status calls read %d documents", n)
	if n > bound {
		t.Errorf("5 concurrent status calls read %d documents, want at most %d (one sweep)", n, bound)
	}
}

// The scheduled sweep rotates through every active job, longest unswept first, however few it
// takes per call, including a job stored before swept_at existed (found: it took the first 100
// active jobs, the same ones every time).
func TestScheduledSweepRotatesThroughActiveJobs(t *testing.T) {
	clk := fakeclock.New(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	h := newHarness(t, harnessOptions{paused: true, sweepAfter: time.Hour, clock: clk.Now})
	h.svc.sweepJobs = 2
	var ids []string
	for n := range 5 {
		spec := httpSpec(n+1, "")
		ids = append(ids, h.plan(t, spec).JobID)
		h.create(t, spec)
		clk.Advance(time.Second)
	}
	// An older version's job document has no swept_at.
	legacy := ids[3]
	if _, err := h.fs.Collection(backfill.Collection).Doc(legacy).Update(t.Context(),
		[]firestore.Update{{Path: "swept_at", Value: firestore.Delete}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for call := range 3 {
		clk.Advance(time.Minute)
		var got SweepAllResponse
		if code := h.do(t, http.MethodPost, "/backfills:sweep", "", nil, nil, &got); code != http.StatusOK || len(got.Jobs) != 2 {
			t.Fatalf("POST /backfills:sweep %d = %d with %d jobs, want 200 with 2", call+1, code, len(got.Jobs))
		}
		for _, j := range got.Jobs {
			seen[j.JobID]++
		}
	}
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("job %s was never swept in 3 calls of 2 jobs (swept: %v)", id, seen)
		}
	}
}
