package bqemulator

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func (s *Server) handleInsertAll(w http.ResponseWriter, r *http.Request) (any, error) {
	var req insertAllRequest
	if err := decodeBody(r, &req, true); err != nil {
		return nil, err
	}
	return s.insertAll(r.Context(), r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table"), &req)
}

type tableDataList struct {
	Kind      string         `json:"kind"`
	Etag      string         `json:"etag,omitempty"`
	TotalRows string         `json:"totalRows"`
	PageToken string         `json:"pageToken,omitempty"`
	Rows      []*bq.TableRow `json:"rows,omitempty"`
}

func (s *Server) handleTableDataList(w http.ResponseWriter, r *http.Request) (any, error) {
	project, dataset, table := r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table")
	t, err := s.cat.table(project, dataset, table)
	if err != nil {
		return nil, err
	}
	if t.View != nil {
		return nil, errInvalid("Cannot list a table of type VIEW.")
	}
	maxResults, hasMax, err := queryInt(r, "maxResults")
	if err != nil {
		return nil, err
	}
	start, _, err := queryInt(r, "startIndex")
	if err != nil {
		return nil, err
	}
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid page token %q", tok)
		}
		start = n
	}
	if !hasMax || maxResults == 0 && r.URL.Query().Get("maxResults") == "" {
		maxResults = 100000
	}
	fields := t.Schema.Fields
	if sel := r.URL.Query().Get("selectedFields"); sel != "" {
		fields, err = selectFields(fields, sel)
		if err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	total, rows, err := s.readTable(ctx, project, dataset, table, fields, start, maxResults)
	if err != nil {
		return nil, err
	}
	int64TS := queryBool(r, "formatOptions.useInt64Timestamp")
	out := &tableDataList{Kind: "bigquery#tableDataList", TotalRows: strconv.FormatInt(total, 10), Rows: encodeRows(fields, rows, int64TS)}
	if next := start + int64(len(rows)); next < total && len(rows) > 0 {
		out.PageToken = strconv.FormatInt(next, 10)
	}
	return out, nil
}

// selectFields keeps the top-level fields named in a comma-separated list (nested paths select their top field).
func selectFields(fields []*bq.TableFieldSchema, sel string) ([]*bq.TableFieldSchema, error) {
	byName := fieldsByName(fields)
	var out []*bq.TableFieldSchema
	seen := map[string]bool{}
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		top, _, _ := strings.Cut(name, ".")
		f, ok := byName[strings.ToLower(top)]
		if !ok {
			return nil, errInvalid("Invalid field selection %s", name)
		}
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// readTable reads canonical rows [start, start+max) of a table in insertion order.
func (s *Server) readTable(ctx context.Context, project, dataset, table string, fields []*bq.TableFieldSchema, start, max int64) (int64, []map[string]any, error) {
	name := duckTable(project, dataset, table)
	var total int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("counting rows of %s: %w", name, err)
	}
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = quoteIdent(f.Name)
	}
	q := fmt.Sprintf(`SELECT %s FROM %s LIMIT %d OFFSET %d`, strings.Join(cols, ", "), name, max, start)
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer rows.Close()
	var out []map[string]any
	vals := make([]any, len(fields))
	ptrs := make([]any, len(fields))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, nil, fmt.Errorf("scanning %s: %w", name, err)
		}
		row := make(map[string]any, len(fields))
		for i, f := range fields {
			row[f.Name] = fromDuck(f, vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return total, out, nil
}

// encodeRows renders canonical rows in BigQuery's {"f":[{"v":...}]} shape.
func encodeRows(fields []*bq.TableFieldSchema, rows []map[string]any, int64TS bool) []*bq.TableRow {
	out := make([]*bq.TableRow, len(rows))
	for i, row := range rows {
		cells := make([]*bq.TableCell, len(fields))
		for j, f := range fields {
			cells[j] = &bq.TableCell{V: encodeCell(f, row[f.Name], int64TS), NullFields: nil}
			if cells[j].V == nil {
				cells[j].ForceSendFields = []string{"V"}
				cells[j].NullFields = []string{"V"}
			}
		}
		out[i] = &bq.TableRow{F: cells}
	}
	return out
}
