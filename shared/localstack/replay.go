package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// Unclassified is the by_kind key of JSON lines that are no X message: they are still
// published, and the loader dead-letters them with the reason.
const Unclassified = event.Unclassified

// ReplaySummary accounts for every line of the replayed captures.
type ReplaySummary struct {
	Published     int            `json:"published"`
	Loaded        map[string]int `json:"loaded"`
	DeadLetters   int            `json:"dead_letters"`
	RejectedLines int            `json:"rejected_lines"`
	ByKind        map[string]int `json:"by_kind"`
	// UnmodelledXTypes counts, by type ("friends", "event:follow"), the X messages the event
	// contract does not model; they are among ByKind's unclassified and are dead-lettered.
	UnmodelledXTypes  map[string]int `json:"unmodelled_x_types,omitempty"`
	DeadLetterReasons map[string]int `json:"dead_letter_reasons,omitempty"`
	Files             []FileSummary  `json:"files"`
	ElapsedS          float64        `json:"elapsed_s"`
}

// FileSummary is what one capture held.
type FileSummary struct {
	File       string         `json:"file"`
	Framing    string         `json:"framing"`
	Records    int            `json:"records"`
	KeepAlives int            `json:"keep_alives"`
	Rejected   []RejectedLine `json:"rejected,omitempty"`
}

// RejectedLine is a line of a capture that was not a JSON message, so it was not published.
type RejectedLine struct {
	Line    int    `json:"line"`
	Reason  string `json:"reason"`
	Excerpt string `json:"excerpt"`
}

// Replay feeds archived stream captures (a JSON array, NDJSON, or the stream's CRLF framing)
// through the collectors' classification and publishing path, waits until every published
// message is loaded or dead-lettered, and counts where each went.
func (s *Stack) Replay(ctx context.Context, files []string, timeout time.Duration) (ReplaySummary, error) {
	start := time.Now()
	sum := ReplaySummary{ByKind: map[string]int{}, Loaded: map[string]int{}, UnmodelledXTypes: map[string]int{}}
	var ids []string
	for _, name := range files {
		fs, fileIDs, err := s.replayFile(ctx, name, sum.ByKind, sum.UnmodelledXTypes)
		if err != nil {
			return sum, err
		}
		sum.Files = append(sum.Files, fs)
		sum.RejectedLines += len(fs.Rejected)
		ids = append(ids, fileIDs...)
	}
	sum.Published = len(ids)
	if err := s.WaitAccounted(ctx, ids, timeout, &sum); err != nil {
		return sum, err
	}
	sum.ElapsedS = time.Since(start).Seconds()
	return sum, nil
}

func (s *Stack) replayFile(ctx context.Context, name string, byKind, unmodelled map[string]int) (FileSummary, []string, error) {
	f, err := os.Open(name)
	if err != nil {
		return FileSummary{}, nil, fmt.Errorf("opening capture: %w", err)
	}
	defer f.Close()
	var results []*publish.Result
	st, err := xstream.ReadCapture(f, func(r xstream.Record) error {
		x, attrs, err := event.XAttributes(r.Data, event.SourceReplay)
		kind := Unclassified
		if err == nil {
			kind = string(x.Kind)
		} else {
			attrs = event.Attributes(event.Unclassified, event.SourceReplay, "", "")
			if u, ok := errors.AsType[*event.UnmodelledError](err); ok {
				unmodelled[u.Type]++
			}
		}
		byKind[kind]++
		results = append(results, s.Publisher.Publish(ctx, publish.Message{Data: r.Data, Attributes: attrs}))
		return nil
	})
	if err != nil {
		return FileSummary{}, nil, fmt.Errorf("reading capture %s: %w", name, err)
	}
	ids := make([]string, 0, len(results))
	for i, r := range results {
		id, err := r.Get(ctx)
		if err != nil {
			return FileSummary{}, nil, fmt.Errorf("publishing record %d of %s: %w", i, name, err)
		}
		ids = append(ids, id)
	}
	fs := FileSummary{File: filepath.Base(name), Framing: string(st.Framing), Records: st.Records, KeepAlives: st.KeepAlives}
	for _, r := range st.Rejected {
		ex := []rune(strings.ToValidUTF8(string(r.Data), "?"))
		if len(ex) > 120 {
			ex = append(ex[:120], '…')
		}
		fs.Rejected = append(fs.Rejected, RejectedLine{Line: r.Line, Reason: r.Reason, Excerpt: string(ex)})
	}
	return fs, ids, nil
}

// WaitAccounted polls the tables until every message id is in a table or the dead letters,
// and counts them into sum.
func (s *Stack) WaitAccounted(ctx context.Context, ids []string, timeout time.Duration, sum *ReplaySummary) error {
	deadline := time.Now().Add(timeout)
	for {
		counts, reasons, err := s.CountMessages(ctx, ids)
		if err != nil {
			return err
		}
		total := 0
		sum.Loaded = map[string]int{}
		for table, n := range counts {
			total += n
			if table == event.TableDeadLetters {
				sum.DeadLetters = n
			} else {
				sum.Loaded[table] = n
			}
		}
		sum.DeadLetterReasons = reasons
		if total >= len(ids) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %d of %d published messages are loaded or dead-lettered (forwarder: %d acked, %d nacked)",
				timeout, total, len(ids), s.Forwarder.Acked(), s.Forwarder.Nacked())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// CountMessages counts, per table, how many of the given message ids it holds (each id once,
// however often it was delivered), and the dead letters' reasons.
func (s *Stack) CountMessages(ctx context.Context, ids []string) (map[string]int, map[string]int, error) {
	counts := map[string]int{}
	for _, table := range event.Tables {
		q := s.BQ.Query(fmt.Sprintf("SELECT COUNT(DISTINCT message_id) AS n FROM `%s.%s.%s` WHERE message_id IN UNNEST(@ids)", s.Project, s.Dataset, table))
		q.Parameters = []bigquery.QueryParameter{{Name: "ids", Value: ids}}
		var row struct{ N int64 }
		if err := readOne(ctx, q, &row); err != nil {
			return nil, nil, fmt.Errorf("counting rows of %s: %w", table, err)
		}
		counts[table] = int(row.N)
	}
	q := s.BQ.Query(fmt.Sprintf("SELECT reason, COUNT(DISTINCT message_id) AS n FROM `%s.%s.%s` WHERE message_id IN UNNEST(@ids) GROUP BY reason", s.Project, s.Dataset, event.TableDeadLetters))
	q.Parameters = []bigquery.QueryParameter{{Name: "ids", Value: ids}}
	it, err := q.Read(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading dead-letter reasons: %w", err)
	}
	reasons := map[string]int{}
	for {
		var r struct {
			Reason string
			N      int64
		}
		err := it.Next(&r)
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading dead-letter reasons: %w", err)
		}
		reasons[r.Reason] = int(r.N)
	}
	return counts, reasons, nil
}

func readOne(ctx context.Context, q *bigquery.Query, dst any) error {
	it, err := q.Read(ctx)
	if err != nil {
		return err
	}
	return it.Next(dst)
}

// SortedKinds returns the keys of a by_kind map in the contract's order, unknown ones last.
func SortedKinds(m map[string]int) []string {
	order := map[string]int{}
	for i, k := range event.Kinds {
		order[string(k)] = i
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, iok := order[keys[i]]
		oj, jok := order[keys[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	return keys
}
