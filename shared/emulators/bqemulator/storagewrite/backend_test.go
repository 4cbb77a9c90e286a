package storagewrite

import (
	"context"
	"fmt"
	"strings"
	"sync"

	bigqueryv2 "google.golang.org/api/bigquery/v2"
)

// memBackend is a map-based Backend for tests: it checks REQUIRED and unknown top-level
// columns, the way the real table store must, and appends atomically.
type memBackend struct {
	mu     sync.Mutex
	tables map[string]*memTable
}

type memTable struct {
	schema *bigqueryv2.TableSchema
	rows   []map[string]any
}

func newMemBackend() *memBackend {
	return &memBackend{tables: make(map[string]*memTable)}
}

func tableKey(project, dataset, table string) string {
	return project + "." + dataset + "." + table
}

// create adds an empty table.
func (b *memBackend) create(project, dataset, table string, schema *bigqueryv2.TableSchema) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tables[tableKey(project, dataset, table)] = &memTable{schema: schema}
}

// drop removes a table.
func (b *memBackend) drop(project, dataset, table string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.tables, tableKey(project, dataset, table))
}

// rows returns a copy of a table's rows.
func (b *memBackend) rows(project, dataset, table string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tables[tableKey(project, dataset, table)]
	if !ok {
		return nil
	}
	return append([]map[string]any(nil), t.rows...)
}

// count returns how many rows a table has.
func (b *memBackend) count(project, dataset, table string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.tables[tableKey(project, dataset, table)]; ok {
		return len(t.rows)
	}
	return 0
}

func (b *memBackend) TableSchema(_ context.Context, project, dataset, table string) (*bigqueryv2.TableSchema, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tables[tableKey(project, dataset, table)]
	if !ok {
		return nil, fmt.Errorf("table %s: %w", tableKey(project, dataset, table), ErrNotFound)
	}
	return t.schema, nil
}

func (b *memBackend) AppendRows(ctx context.Context, project, dataset, table string, rows []map[string]any) ([]RowError, error) {
	rowErrs, err := b.ValidateRows(ctx, project, dataset, table, rows)
	if err != nil || len(rowErrs) > 0 {
		return rowErrs, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tables[tableKey(project, dataset, table)]
	if !ok {
		return nil, fmt.Errorf("table %s: %w", tableKey(project, dataset, table), ErrNotFound)
	}
	t.rows = append(t.rows, rows...)
	return nil, nil
}

func (b *memBackend) ValidateRows(_ context.Context, project, dataset, table string, rows []map[string]any) ([]RowError, error) {
	b.mu.Lock()
	t, ok := b.tables[tableKey(project, dataset, table)]
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("table %s: %w", tableKey(project, dataset, table), ErrNotFound)
	}
	known := make(map[string]bool)
	var rowErrs []RowError
	for _, f := range t.schema.Fields {
		known[f.Name] = true
	}
	for i, r := range rows {
		var problems []string
		for _, f := range t.schema.Fields {
			if f.Mode == "REQUIRED" && r[f.Name] == nil {
				problems = append(problems, "missing required column "+f.Name)
			}
		}
		for k := range r {
			if !known[k] {
				problems = append(problems, "unknown column "+k)
			}
		}
		if len(problems) > 0 {
			rowErrs = append(rowErrs, RowError{Index: i, Message: strings.Join(problems, "; ")})
		}
	}
	return rowErrs, nil
}
