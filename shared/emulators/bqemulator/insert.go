package bqemulator

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	bq "google.golang.org/api/bigquery/v2"
)

// appendRows appends validated canonical rows to a table atomically.
func (s *Server) appendRows(ctx context.Context, t *bq.Table, rows []map[string]any) error {
	if len(rows) == 0 {
		return nil
	}
	r := t.TableReference
	fields := t.Schema.Fields
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("getting duckdb connection: %w", err)
	}
	defer conn.Close()
	// One appender flush is one DuckDB transaction, so the batch lands atomically
	// without an explicit BEGIN/COMMIT (which would double the cgo round trips).
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), dsKey(r.ProjectId, r.DatasetId), r.TableId)
		if err != nil {
			return fmt.Errorf("creating appender: %w", err)
		}
		vals := make([]driver.Value, len(fields))
		for _, row := range rows {
			for i, f := range fields {
				v, ok := row[f.Name]
				if !ok {
					v = lookupFold(row, f.Name)
				}
				vals[i] = toDriver(f, v)
			}
			if err := a.AppendRow(vals...); err != nil {
				a.Close()
				return fmt.Errorf("appending row: %w", err)
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("flushing appender: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("appending rows to %s:%s.%s: %w", r.ProjectId, r.DatasetId, r.TableId, err)
	}
	s.touchTable(t)
	return nil
}

// touchTable records a modification time without persisting it (cheap on the hot path).
func (s *Server) touchTable(t *bq.Table) {
	s.cat.mu.Lock()
	t.LastModifiedTime = uint64(s.now().UnixMilli())
	s.cat.mu.Unlock()
}

// insertTable looks up a table that rows can be written to.
func (s *Server) insertTable(project, dataset, table string) (*bq.Table, error) {
	t, err := s.cat.table(project, dataset, table)
	if err != nil {
		return nil, err
	}
	if t.View != nil {
		return nil, errInvalid("Cannot insert rows into view %s:%s.%s", project, dataset, table)
	}
	return t, nil
}

// dedupCache remembers insertIds for a window, as BigQuery's best-effort dedup does.
type dedupCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	checked time.Time
}

func newDedupCache() *dedupCache { return &dedupCache{seen: map[string]time.Time{}} }

// reserve reports whether id is new within window at now, and records it.
func (d *dedupCache) reserve(key string, now time.Time, window time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.checked) > window {
		for k, t := range d.seen {
			if now.Sub(t) >= window {
				delete(d.seen, k)
			}
		}
		d.checked = now
	}
	if t, ok := d.seen[key]; ok && now.Sub(t) < window {
		return false
	}
	d.seen[key] = now
	return true
}

func (d *dedupCache) release(keys []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.seen, k)
	}
}

type insertAllRequest struct {
	SkipInvalidRows     bool   `json:"skipInvalidRows"`
	IgnoreUnknownValues bool   `json:"ignoreUnknownValues"`
	TemplateSuffix      string `json:"templateSuffix"`
	Rows                []struct {
		InsertID string         `json:"insertId"`
		JSON     map[string]any `json:"json"`
	} `json:"rows"`
}

type insertError struct {
	Index  int64            `json:"index"`
	Errors []insertErrProto `json:"errors"`
}

type insertErrProto struct {
	Reason    string `json:"reason"`
	Location  string `json:"location"`
	DebugInfo string `json:"debugInfo"`
	Message   string `json:"message"`
}

type insertAllResponse struct {
	Kind         string        `json:"kind"`
	InsertErrors []insertError `json:"insertErrors,omitempty"`
}

// insertAll implements tabledata.insertAll.
func (s *Server) insertAll(ctx context.Context, project, dataset, table string, req *insertAllRequest) (*insertAllResponse, error) {
	if req.TemplateSuffix != "" {
		return nil, errUnsupported("templateSuffix")
	}
	t, err := s.insertTable(project, dataset, table)
	if err != nil {
		return nil, err
	}
	resp := &insertAllResponse{Kind: "bigquery#tableDataInsertAllResponse"}
	if len(req.Rows) == 0 {
		return nil, errInvalid("No rows present in the request.")
	}
	rows := make([]map[string]any, len(req.Rows))
	bad := map[int]bool{}
	for i, r := range req.Rows {
		row, errs := convertJSONRow(t.Schema.Fields, r.JSON, req.IgnoreUnknownValues, "")
		if len(errs) == 0 {
			errs = validateRow(t.Schema.Fields, row, "")
		}
		if len(errs) > 0 {
			bad[i] = true
			ie := insertError{Index: int64(i)}
			for _, e := range errs {
				ie.Errors = append(ie.Errors, insertErrProto{Reason: "invalid", Location: e.location, Message: e.message})
			}
			resp.InsertErrors = append(resp.InsertErrors, ie)
		}
		rows[i] = row
	}
	if len(bad) > 0 && !req.SkipInvalidRows {
		for i := range req.Rows {
			if !bad[i] {
				resp.InsertErrors = append(resp.InsertErrors, insertError{Index: int64(i), Errors: []insertErrProto{{Reason: "stopped"}}})
			}
		}
		return resp, nil
	}
	now := s.now()
	var keep []map[string]any
	var reserved []string
	for i, row := range rows {
		if bad[i] {
			continue
		}
		if id := req.Rows[i].InsertID; id != "" {
			key := tableKey(project, dataset, table) + "/" + id
			if !s.dedup.reserve(key, now, s.cfg.dedupWindow) {
				continue
			}
			reserved = append(reserved, key)
		}
		keep = append(keep, row)
	}
	if err := s.appendRows(ctx, t, keep); err != nil {
		s.dedup.release(reserved)
		return nil, err
	}
	return resp, nil
}

// errNotFoundSentinel lets the storagewrite adapter recognise missing tables.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == 404
}
