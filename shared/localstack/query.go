package localstack

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
)

// Result is a query's answer: its column names and its rows, in order.
type Result struct {
	Columns []string
	Rows    [][]bigquery.Value
}

// Query runs sql through the official BigQuery client against whatever BigQuery the stack uses
// (ours or the one BIGQUERY_EMULATOR_HOST named), with the stack's dataset as the default, so
// `SELECT * FROM tweets` works.
func (s *Stack) Query(ctx context.Context, sql string) (*Result, error) {
	return RunQuery(ctx, s.BQ, s.Dataset, sql)
}

// RunQuery runs sql with dataset as the default dataset and reads every row.
func RunQuery(ctx context.Context, c *bigquery.Client, dataset, sql string) (*Result, error) {
	q := c.Query(sql)
	q.DefaultDatasetID = dataset
	it, err := q.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("running query: %w", err)
	}
	var r Result
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading query results: %w", err)
		}
		r.Rows = append(r.Rows, row)
	}
	for _, f := range it.Schema {
		r.Columns = append(r.Columns, f.Name)
	}
	return &r, nil
}

// Int returns the integer in row i, column name; 0 when it is missing or not an integer.
func (r *Result) Int(i int, name string) int64 {
	for c, n := range r.Columns {
		if n == name && i < len(r.Rows) && c < len(r.Rows[i]) {
			v, _ := r.Rows[i][c].(int64)
			return v
		}
	}
	return 0
}

// maxCell bounds a printed cell: a raw JSON column must not make the table unreadable.
const maxCell = 60

// Print writes the result as an aligned text table followed by the row count.
func (r *Result) Print(w io.Writer) {
	cells := make([][]string, len(r.Rows))
	width := make([]int, len(r.Columns))
	for c, n := range r.Columns {
		width[c] = utf8.RuneCountInString(n)
	}
	for i, row := range r.Rows {
		cells[i] = make([]string, len(r.Columns))
		for c := range r.Columns {
			var v bigquery.Value
			if c < len(row) {
				v = row[c]
			}
			s := formatValue(v)
			if utf8.RuneCountInString(s) > maxCell {
				s = string([]rune(s)[:maxCell-1]) + "…"
			}
			cells[i][c] = s
			width[c] = max(width[c], utf8.RuneCountInString(s))
		}
	}
	line := func(vals []string) {
		var b strings.Builder
		for c, v := range vals {
			if c > 0 {
				b.WriteString("  ")
			}
			b.WriteString(v)
			if c < len(vals)-1 {
				b.WriteString(strings.Repeat(" ", width[c]-utf8.RuneCountInString(v)))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(r.Columns)
	rule := make([]string, len(width))
	for c, n := range width {
		rule[c] = strings.Repeat("-", n)
	}
	line(rule)
	for _, row := range cells {
		line(row)
	}
	noun := "rows"
	if len(r.Rows) == 1 {
		noun = "row"
	}
	fmt.Fprintf(w, "(%d %s)\n", len(r.Rows), noun)
}

func formatValue(v bigquery.Value) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []bigquery.Value:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return strings.ReplaceAll(x, "\n", `\n`)
	default:
		return fmt.Sprint(x)
	}
}
