package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

// FirestoreConfig sizes the Firestore emulator measurement.
type FirestoreConfig struct {
	Goroutines int
	Duration   time.Duration
	Log        *slog.Logger
	Logs       io.Writer
}

// FirestoreResult is what the Firestore emulator sustains on this machine, alone: the ceiling
// under the backfill worker, which makes six Firestore calls per task.
type FirestoreResult struct {
	Goroutines int `json:"goroutines"`
	// TxPerS is transactions/s shaped like the worker's outcome record: read one document,
	// write it and a merge-increment of a counter document (64 counters).
	TxPerS float64 `json:"tx_per_s"`
	// CreatesPerS is the worker's record without a transaction: one batch creating the shard
	// document (precondition: absent) and incrementing its counter.
	CreatesPerS float64 `json:"create_increment_per_s"`
	// GetsPerS and WritesPerS are single-document reads and one-document batch commits.
	GetsPerS   float64 `json:"gets_per_s"`
	WritesPerS float64 `json:"writes_per_s"`
}

// firestoreEmulator makes FIRESTORE_EMULATOR_HOST name a running emulator, starting one when it
// does not; stop stops what it started.
func firestoreEmulator(ctx context.Context, log *slog.Logger, logs io.Writer) (stop func(), err error) {
	if host := os.Getenv("FIRESTORE_EMULATOR_HOST"); host != "" && gcloudemu.Ping(ctx, host) == nil {
		return func() {}, nil
	}
	log.Info("starting the Firestore emulator")
	em, err := gcloudemu.Start(ctx, gcloudemu.Firestore, gcloudemu.WithOutput(logs))
	if err != nil {
		return nil, err
	}
	os.Setenv("FIRESTORE_EMULATOR_HOST", em.Host)
	return func() { em.Stop() }, nil
}

// benchFirestore measures the Firestore emulator alone, from many goroutines of one client.
func benchFirestore(ctx context.Context, c FirestoreConfig) (*FirestoreResult, error) {
	stop, err := firestoreEmulator(ctx, c.Log, c.Logs)
	if err != nil {
		return nil, err
	}
	defer stop()
	client, err := firestore.NewClient(ctx, fmt.Sprintf("bench-fs-%d", time.Now().UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("creating the Firestore client: %w", err)
	}
	defer client.Close()
	job := client.Collection("backfills").Doc("fsbench")
	res := &FirestoreResult{Goroutines: c.Goroutines}

	c.Log.Info("firestore: transactions", "goroutines", c.Goroutines, "for", c.Duration)
	n, d, err := hammer(ctx, c, func(ctx context.Context, i int) error {
		shard := job.Collection("shards").Doc(fmt.Sprintf("t%09d", i))
		return client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			if _, err := tx.Get(shard); err != nil && !isNotFound(err) {
				return err
			}
			if err := tx.Set(shard, map[string]any{"state": "succeeded", "index": i, "updated_at": time.Now()}); err != nil {
				return err
			}
			return tx.Set(job.Collection("counters").Doc(strconv.Itoa(i%64)),
				map[string]any{"succeeded": firestore.Increment(1), "updated_at": time.Now()}, firestore.MergeAll)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("transactions: %w", err)
	}
	res.TxPerS = float64(n) / d.Seconds()

	c.Log.Info("firestore: create + increment batches")
	n, d, err = hammer(ctx, c, func(ctx context.Context, i int) error {
		b := client.Batch()
		b.Create(job.Collection("shards2").Doc(fmt.Sprintf("t%09d", i)), map[string]any{"state": "succeeded", "index": i, "updated_at": time.Now()})
		b.Set(job.Collection("counters").Doc(strconv.Itoa(i%64)), map[string]any{"succeeded": firestore.Increment(1), "updated_at": time.Now()}, firestore.MergeAll)
		_, err := b.Commit(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create + increment: %w", err)
	}
	res.CreatesPerS = float64(n) / d.Seconds()

	c.Log.Info("firestore: single writes")
	n, d, err = hammer(ctx, c, func(ctx context.Context, i int) error {
		b := client.Batch()
		b.Set(job.Collection("raw").Doc(fmt.Sprintf("r%09d-p0", i)), map[string]any{"data": make([]byte, 600), "part": 0})
		_, err := b.Commit(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("writes: %w", err)
	}
	res.WritesPerS = float64(n) / d.Seconds()

	c.Log.Info("firestore: reads")
	n, d, err = hammer(ctx, c, func(ctx context.Context, i int) error {
		_, err := job.Collection("shards").Doc(fmt.Sprintf("t%09d", i%1000)).Get(ctx)
		if isNotFound(err) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reads: %w", err)
	}
	res.GetsPerS = float64(n) / d.Seconds()
	return res, nil
}

// hammer runs op from c.Goroutines goroutines for c.Duration and counts the calls that ended.
func hammer(ctx context.Context, c FirestoreConfig, op func(context.Context, int) error) (int64, time.Duration, error) {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	stop := time.Now().Add(c.Duration)
	start := time.Now()
	for range c.Goroutines {
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				if err := op(ctx, int(next.Add(1))); err != nil {
					once.Do(func() { first = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return done.Load(), time.Since(start), first
}

func isNotFound(err error) bool {
	return err != nil && grpcCode(err) == "NotFound"
}

func printFirestore(w io.Writer, f *FirestoreResult) {
	if f == nil {
		return
	}
	name := "firestore emulator"
	fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, fmt.Sprintf("record-like transactions/s (%d goroutines)", f.Goroutines), f.TxPerS)
	fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, "create + increment batch commits/s", f.CreatesPerS)
	fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, "one-document batch commits/s", f.WritesPerS)
	fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, "document gets/s", f.GetsPerS)
}
