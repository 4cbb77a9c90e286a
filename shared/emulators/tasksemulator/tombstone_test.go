package tasksemulator

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
)

// The sweep of expired tombstones looks at the expired ones (and the first live one), not at
// every tombstone: a backfill leaves one per task executed, and a scan of them all every
// tombstoneSweepPeriod creates, under the server's lock, grew with the job. Names still work as
// before: reserved for the TTL, free after it.
func TestTombstoneSweepLooksOnlyAtExpired(t *testing.T) {
	const tombstoned, later = 5000, 3 * tombstoneSweepPeriod
	srv, client, clock := newFakeServer(t, WithTombstoneTTL(time.Hour))
	mustCreateQueue(t, client, "t", nil)
	q := pausedQueue(t, srv, "t")
	ctx := t.Context()
	create := func(id string) error {
		_, err := srv.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: q, Task: &cloudtaskspb.Task{Name: q + "/tasks/" + id,
			MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{Url: "http://127.0.0.1:1/"}}}})
		return err
	}
	for i := range tombstoned {
		id := fmt.Sprintf("old-%d", i)
		if err := create(id); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: q + "/tasks/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	srv.mu.Lock()
	srv.tombVisits = 0
	srv.mu.Unlock()
	for i := range later {
		if err := create(fmt.Sprintf("new-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.mu.Lock()
	visits := srv.tombVisits
	srv.mu.Unlock()
	if sweeps := later / tombstoneSweepPeriod; visits > sweeps {
		t.Errorf("%d sweeps with none of %d tombstones expired looked at %d tombstones, want at most %d (the first, live one each)", sweeps, tombstoned, visits, sweeps)
	}
	if err := create("old-7"); err == nil {
		t.Errorf("CreateTask(old-7) within the TTL succeeded, want AlreadyExists")
	}
	clock.Advance(time.Hour)
	for i := range tombstoneSweepPeriod {
		if err := create(fmt.Sprintf("after-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.mu.Lock()
	left := len(srv.tombstones)
	srv.mu.Unlock()
	if left != 0 {
		t.Errorf("%d tombstones left after the TTL and a sweep, want 0", left)
	}
	if err := create("old-7"); err != nil {
		t.Errorf("CreateTask(old-7) after the TTL = %v, want success", err)
	}
}
