package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// CostConfig sizes the cost report's measured runs.
type CostConfig struct {
	// RankingEvents are delivered to UpdateRankings (the rankings bench, throughput only).
	RankingEvents, RankingInFlight int
	// LoaderMessages are delivered to LoadEvents at LoaderInFlight (Terraform's concurrency).
	LoaderMessages, LoaderInFlight int
	// Backfill is a small job measured and scaled to BackfillTasks.
	Backfill      BackfillConfig
	BackfillTasks int
	Log           *slog.Logger
	Logs          io.Writer
}

// CostLine is one billable quantity of a unit of work and its dollars.
type CostLine struct {
	Service  string  `json:"service"`
	What     string  `json:"what"`
	Quantity float64 `json:"quantity"`
	Unit     string  `json:"unit"`
	USD      float64 `json:"usd"`
	// Measured says the quantity was counted in this run; otherwise it is modelled (Note says how).
	Measured bool   `json:"measured"`
	Note     string `json:"note,omitempty"`
}

// CostUnit is a unit of work with its lines and their total.
type CostUnit struct {
	Name  string     `json:"name"`
	Lines []CostLine `json:"lines"`
	USD   float64    `json:"usd"`
}

func (u *CostUnit) add(l CostLine) {
	u.Lines = append(u.Lines, l)
	u.USD += l.USD
}

// CostResult is the report: what was measured, and each unit of work in operations and dollars.
type CostResult struct {
	Rankings *RankingsResult `json:"rankings"`
	Loader   *LoaderResult   `json:"loader"`
	Backfill *BackfillResult `json:"backfill"`
	Units    []CostUnit      `json:"units"`
	// Alternatives are other ways to do a unit's work, priced from the same table.
	Alternatives []CostLine `json:"alternatives"`
	// LoaderInstanceSecondsPerM is LoadEvents' billable instance time per million events, busy
	// (one instance saturated at its concurrency: 1e6 / its throughput) and sparse (every
	// request alone on an instance, its median time rounded up to Cloud Run's 100 ms).
	LoaderInstanceSecondsPerM, LoaderSparseInstanceSecondsPerM float64
	LoadBefore, LoadAfter                                      float64
}

// Function sizes as Terraform sets them (terraform/functions.tf, terraform/rankings.tf).
const (
	loaderGiB, loaderConcurrency   = 0.5, 80
	rankingsGiB                    = 0.5
	collectGiB, collectConcurrency = 2, 80
	taskGiB, taskConcurrency       = 0.5, 10
	serveGiB                       = 0.5
)

// benchCost runs the loader, the rankings path and a small backfill with their operations
// counted, and prices each unit of work from the table in prices.go.
func benchCost(ctx context.Context, c CostConfig) (*CostResult, error) {
	res := &CostResult{LoadBefore: loadAverage()}
	var err error
	c.Log.Info("cost: loader", "messages", c.LoaderMessages)
	if res.Loader, err = runLoader(ctx, LoaderConfig{Messages: c.LoaderMessages, InFlight: c.LoaderInFlight, BaselineMessages: 200,
		RTT: 10 * time.Millisecond, Log: c.Log, Logs: c.Logs}, 10*time.Millisecond); err != nil {
		return nil, fmt.Errorf("cost: loader: %w", err)
	}
	c.Log.Info("cost: rankings", "events", c.RankingEvents)
	if res.Rankings, err = benchRankings(ctx, RankingsConfig{Events: c.RankingEvents, InFlight: c.RankingInFlight, BaselineEvents: 200,
		Log: c.Log, Logs: c.Logs}); err != nil {
		return nil, fmt.Errorf("cost: rankings: %w", err)
	}
	c.Log.Info("cost: backfill", "videos", c.Backfill.Videos, "days", c.Backfill.Days)
	if res.Backfill, err = benchBackfill(ctx, c.Backfill); err != nil {
		return nil, fmt.Errorf("cost: backfill: %w", err)
	}
	res.LoadAfter = loadAverage()
	res.price(c.BackfillTasks)
	return res, nil
}

// messageSizes returns the mean data size of the loader's tweets and app events and of the
// rankings bench's events, as Pub/Sub bills them (data and attributes).
func messageSizes() (tweet, app, ranked float64) {
	attrs := 0
	for k, v := range event.Attributes(event.KindTweet, event.SourceXStream, "", "") {
		attrs += len(k) + len(v)
	}
	var nt, na int
	for i, m := range sampleMessages(1000) {
		if i%10 < 7 {
			tweet, nt = tweet+float64(len(m)+attrs), nt+1
		} else {
			app, na = app+float64(len(m)+attrs), na+1
		}
	}
	msgs, _ := rankingMessages(1000, "size")
	for _, m := range msgs {
		ranked += float64(len(m.Data) + attrs)
	}
	return tweet / float64(nt), app / float64(na), ranked / float64(len(msgs))
}

// billed is what Pub/Sub bills a request of n bytes.
func billed(n float64) float64 { return math.Max(n, pubsubMinBytes) }

func (r *CostResult) price(backfillTasks int) {
	p := Prices
	tweetB, appB, rankedB := messageSizes()
	const m = 1e6
	l := r.Loader
	r.LoaderInstanceSecondsPerM = m / l.MsgsPerS
	r.LoaderSparseInstanceSecondsPerM = m * math.Ceil(l.P50Ms/100) * 0.1
	fn := func(u *CostUnit, name string, requests, instSec, gibMem float64, measured bool, note string) {
		u.add(CostLine{Service: "Cloud Run functions", What: name + " requests", Quantity: requests, Unit: "requests", USD: p.RunRequests.Cost(requests), Measured: true})
		u.add(CostLine{Service: "Cloud Run functions", What: name + " instance time (1 vCPU)", Quantity: instSec, Unit: "vCPU-s",
			USD: p.RunVCPUSecond.Cost(instSec) + p.RunGiBSecond.Cost(instSec*gibMem), Measured: measured, Note: note})
	}
	load := func(name string, size float64) CostUnit {
		u := CostUnit{Name: name}
		// Publishers batch (the client library's default), so a publish request is well over 1,000 bytes.
		u.add(CostLine{Service: "Pub/Sub", What: "publish", Quantity: m * size, Unit: "bytes", USD: p.PubSubThroughput.Cost(m * size), Measured: true,
			Note: "batched publishes: no per-request minimum reached"})
		u.add(CostLine{Service: "Pub/Sub", What: "push to LoadEvents (one message a request)", Quantity: m * billed(size), Unit: "bytes billed",
			USD: p.PubSubThroughput.Cost(m * billed(size)), Measured: true, Note: "1,000-byte minimum per push"})
		fn(&u, "LoadEvents", m, r.LoaderInstanceSecondsPerM, loaderGiB, true,
			fmt.Sprintf("busy: 1e6 / %.0f msgs/s of one process at %d in flight; sparse (one request per instance at a time) %.0f s", l.MsgsPerS, l.InFlight, r.LoaderSparseInstanceSecondsPerM))
		u.add(CostLine{Service: "BigQuery", What: "Storage Write API bytes", Quantity: m * size, Unit: "bytes", USD: p.StorageWriteAPI.Cost(m * size), Measured: false,
			Note: "row bytes taken as the message's size"})
		return u
	}
	tweets := load("1 M tweets loaded", tweetB)
	apps := load("1 M app events loaded", appB)
	// CollectEvents before the loader: its dedup is a read, a create and a TTL delete per event
	// (functions/collectevents/dedup.go); requests assume 10 events per POST.
	apps.add(CostLine{Service: "Cloud Run functions", What: "CollectEvents requests (10 events a POST)", Quantity: m / 10, Unit: "requests", USD: p.RunRequests.Cost(m / 10)})
	apps.add(CostLine{Service: "Firestore", What: "CollectEvents dedup reads", Quantity: m, Unit: "reads", USD: p.FirestoreRead.Cost(m), Note: "one per event (Seen)"})
	apps.add(CostLine{Service: "Firestore", What: "CollectEvents dedup writes", Quantity: m, Unit: "writes", USD: p.FirestoreWrite.Cost(m), Note: "one per event (Mark)"})
	apps.add(CostLine{Service: "Firestore", What: "CollectEvents dedup TTL deletes", Quantity: m, Unit: "deletes", USD: p.FirestoreDelete.Cost(m), Note: "one per event, after DEDUP_TTL"})

	rk := r.Rankings
	n := float64(rk.Events)
	ranked := CostUnit{Name: "1 M ranked events"}
	ranked.add(CostLine{Service: "Pub/Sub", What: "push to UpdateRankings", Quantity: m * billed(rankedB), Unit: "bytes billed",
		USD: p.PubSubThroughput.Cost(m * billed(rankedB)), Measured: true, Note: "1,000-byte minimum per push; publishing is counted under loading"})
	fn(&ranked, "UpdateRankings", m, m/rk.EventsPS, rankingsGiB, true, fmt.Sprintf("busy: 1e6 / %.0f events/s of one process at %d in flight", rk.EventsPS, rk.InFlight))
	ranked.add(CostLine{Service: "Firestore", What: "writes", Quantity: m * float64(rk.Ops.Writes) / n, Unit: "writes", USD: p.FirestoreWrite.Cost(m * float64(rk.Ops.Writes) / n), Measured: true,
		Note: fmt.Sprintf("%.3f per event", float64(rk.Ops.Writes)/n)})
	ranked.add(CostLine{Service: "Firestore", What: "reads", Quantity: m * float64(rk.Ops.Reads) / n, Unit: "reads", USD: p.FirestoreRead.Cost(m * float64(rk.Ops.Reads) / n), Measured: true})
	ranked.add(CostLine{Service: "Firestore", What: "TTL deletes (each document written, once)", Quantity: m * float64(rk.Ops.Docs) / n, Unit: "deletes",
		USD: p.FirestoreDelete.Cost(m * float64(rk.Ops.Docs) / n), Measured: true, Note: fmt.Sprintf("%.3f documents per event", float64(rk.Ops.Docs)/n)})

	b := r.Backfill
	scale := float64(backfillTasks) / float64(b.Tasks)
	bf := CostUnit{Name: fmt.Sprintf("a %d-query backfill (measured on %d tasks, scaled x%.0f)", backfillTasks, b.Tasks, scale)}
	dispatches := 0
	for status, d := range b.Dispatches {
		if _, err := strconv.Atoi(status); err == nil { // an attempt's answer; "kept" counts tasks, not attempts
			dispatches += d
		}
	}
	if dispatches == 0 {
		dispatches = b.Tasks
	}
	bf.add(CostLine{Service: "Cloud Tasks", What: "task creates + dispatch attempts", Quantity: scale * float64(b.Tasks+dispatches), Unit: "operations",
		USD: p.TasksOperation.Cost(scale * float64(b.Tasks+dispatches)), Measured: true, Note: "each task under 32 KB"})
	taskSec := scale * float64(dispatches) * (b.LatencyMs/1000 + 0.05) / taskConcurrency
	fn(&bf, "RunBackfillTask", scale*float64(dispatches), taskSec, taskGiB, false,
		fmt.Sprintf("modelled: each request the API's %.0f ms + 50 ms, %d requests sharing an instance", b.LatencyMs, taskConcurrency))
	if ops := b.FirestoreOps; ops != nil {
		bf.add(CostLine{Service: "Firestore", What: "writes", Quantity: scale * float64(ops.Writes), Unit: "writes", USD: p.FirestoreWrite.Cost(scale * float64(ops.Writes)), Measured: true})
		bf.add(CostLine{Service: "Firestore", What: "reads", Quantity: scale * float64(ops.Reads), Unit: "reads", USD: p.FirestoreRead.Cost(scale * float64(ops.Reads)), Measured: true})
		bf.add(CostLine{Service: "Firestore", What: "deletes (each document written, once: an upper bound)", Quantity: scale * float64(ops.Docs), Unit: "deletes", USD: p.FirestoreDelete.Cost(scale * float64(ops.Docs)), Measured: true})
	}
	rowBytes := 200.0
	bf.add(CostLine{Service: "BigQuery", What: "Storage Write API bytes", Quantity: scale * float64(b.Rows) * rowBytes, Unit: "bytes",
		USD: p.StorageWriteAPI.Cost(scale * float64(b.Rows) * rowBytes), Note: fmt.Sprintf("%.0f rows measured, %.0f bytes a row assumed", scale*float64(b.Rows), rowBytes)})
	bf.add(CostLine{Service: "Secret Manager", What: "accesses", Quantity: 20, Unit: "accesses", USD: p.SecretAccess.Cost(20),
		Note: "one per RunBackfillTask instance (values cached per instance; max_instances 20)"})

	// An open deck tab polls every 5 s (DECK_POLL_INTERVAL): one /tweets and four rankings a poll.
	polls := 86400.0 / 5
	var decks []CostUnit
	for _, docs := range []float64{1, 80} {
		deck := CostUnit{Name: fmt.Sprintf("an open deck tab for a day, %.0f counter document(s) a bucket", docs)}
		deck.add(CostLine{Service: "Cloud Run functions", What: "ServeRankings requests (5 a poll)", Quantity: polls * 5, Unit: "requests", USD: p.RunRequests.Cost(polls * 5)})
		deck.add(CostLine{Service: "Cloud Run functions", What: "ServeRankings instance time", Quantity: polls * 0.1, Unit: "vCPU-s",
			USD: p.RunVCPUSecond.Cost(polls*0.1) + p.RunGiBSecond.Cost(polls*0.1*serveGiB), Note: "the poll's requests overlap: one 100 ms billable slice a poll"})
		deck.add(CostLine{Service: "Firestore", What: "/tweets reads (n=20)", Quantity: polls * 20, Unit: "reads", USD: p.FirestoreRead.Cost(polls * 20)})
		q := polls * 4 * 12 * docs
		deck.add(CostLine{Service: "Firestore", What: "rankings reads", Quantity: q, Unit: "reads", USD: p.FirestoreRead.Cost(q),
			Note: "the 1h window's 12 buckets, recomputed each 5 s (RANKINGS_CACHE_TTL) for this tab alone; 1 = a quiet stream, 80 = 20 instances x 4 shards"})
		decks = append(decks, deck)
	}
	r.Units = append([]CostUnit{tweets, apps, ranked, bf}, decks...)

	// Alternatives for loading a million events (tweet sizes), and for the backfill.
	r.Alternatives = []CostLine{
		{Service: "Pub/Sub BigQuery subscription", What: "1 M tweets, no function (no validation, no dead-letter reasons)", Quantity: m * tweetB, Unit: "bytes",
			USD: p.PubSubThroughput.Cost(m*tweetB) + p.PubSubBigQuerySub.Cost(m*billed(tweetB))},
		{Service: "Dataflow Pub/Sub-to-BigQuery template", What: "1 M tweets: worker-hours of one always-on streaming worker, at 100 events/s", Quantity: m / 100 / 3600, Unit: "worker-hours",
			Note: Prices.DataflowStreamingWorkerHour.Note},
		{Service: "the seed's loop", What: "1 M tweets, one insertAll per message", Quantity: m * math.Max(tweetB, 1024), Unit: "bytes",
			USD:  p.LegacyInsertAll.Cost(m*math.Max(tweetB, 1024)) + p.PubSubThroughput.Cost(m*tweetB+m*billed(tweetB)),
			Note: "legacy streaming inserts, 1 KB minimum a row, plus Pub/Sub; its consumer's compute not counted"},
		{Service: "managed ELT (Airbyte Cloud)", What: fmt.Sprintf("the %d-query backfill's rows", backfillTasks), Quantity: scale * float64(b.Rows), Unit: "rows",
			USD: math.Max(p.ManagedELTPlanMonth.USD, p.ManagedELTAPIRows.Cost(scale*float64(b.Rows))), Note: "plan minimum $10 a month, API rows $15 per million"},
	}
}

func printCost(w io.Writer, r *CostResult) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\ncost (list prices of prices.go, read %s; load average %.1f -> %.1f)\n", pricesRead, r.LoadBefore, r.LoadAfter)
	for _, u := range r.Units {
		fmt.Fprintf(w, "  %s: $%.2f\n", u.Name, u.USD)
		for _, l := range u.Lines {
			m := "modelled"
			if l.Measured {
				m = "measured"
			}
			fmt.Fprintf(w, "    %-20s %-55s %16.0f %-12s $%9.4f  %s  %s\n", l.Service, l.What, l.Quantity, l.Unit, l.USD, m, l.Note)
		}
	}
	fmt.Fprintf(w, "  LoadEvents instance-seconds per million events: %.0f busy, %.0f sparse\n", r.LoaderInstanceSecondsPerM, r.LoaderSparseInstanceSecondsPerM)
	fmt.Fprintf(w, "  alternatives:\n")
	for _, l := range r.Alternatives {
		fmt.Fprintf(w, "    %-40s %-70s %14.2f %-12s $%9.4f  %s\n", l.Service, l.What, l.Quantity, l.Unit, l.USD, l.Note)
	}
}
