// Command bench measures the pipeline on this machine against its baselines, in the same run,
// and prints a table for people and (with --json) one JSON object as its last line.
//
//	go run ./scripts/bench [--json] [--only loader] [--loader-messages N] [--loader-inflight N]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Report is every figure of a run.
type Report struct {
	Machine string        `json:"machine"`
	Loader  *LoaderResult `json:"loader,omitempty"`
}

func main() {
	jsonOut := flag.Bool("json", false, "print the report as one JSON object on the last line")
	only := flag.String("only", "", "run only these benchmarks (comma-separated: loader)")
	var lc LoaderConfig
	flag.IntVar(&lc.Messages, "loader-messages", 20000, "messages delivered to LoadEvents")
	flag.IntVar(&lc.InFlight, "loader-inflight", 64, "deliveries in flight, as Eventarc with the function's concurrency")
	flag.IntVar(&lc.BaselineMessages, "loader-baseline-messages", 1000, "messages for the one-insert-per-message baseline")
	flag.DurationVar(&lc.RTT, "rtt", 10*time.Millisecond, "network round trip to BigQuery modelled by the local BigQuery (0: loopback only)")
	verbose := flag.Bool("verbose", false, "show the functions' output")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	lc.Log = log
	lc.Logs = io.Discard
	if *verbose {
		lc.Logs = os.Stderr
	}
	want := func(name string) bool { return *only == "" || strings.Contains(","+*only+",", ","+name+",") }

	r := Report{Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
	if want("loader") {
		res, err := benchLoader(ctx, lc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: loader: %v\n", err)
			os.Exit(1)
		}
		r.Loader = res
	}
	printTable(os.Stdout, r)
	if *jsonOut {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
}

func printTable(w io.Writer, r Report) {
	fmt.Fprintf(w, "machine: %s\n\n", r.Machine)
	fmt.Fprintf(w, "%-20s %-40s %14s %14s %8s\n", "bench", "measure", "value", "baseline", "ratio")
	for _, l := range []*LoaderResult{r.Loader, loopback(r.Loader)} {
		if l == nil {
			continue
		}
		name := fmt.Sprintf("loader, %.0f ms RTT", l.RTTMs)
		fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", name, "messages/s (Storage Write vs insertAll)", l.MsgsPerS, l.BaselineMsgsPerS, l.Ratio)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "p50 delivery -> durable row (ms)", l.P50Ms, l.BaselineP50Ms)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "p99 delivery -> durable row (ms)", l.P99Ms, l.BaselineP99Ms)
	}
}

func loopback(l *LoaderResult) *LoaderResult {
	if l == nil {
		return nil
	}
	return l.Loopback
}
