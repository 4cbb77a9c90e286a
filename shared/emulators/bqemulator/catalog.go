package bqemulator

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	bq "google.golang.org/api/bigquery/v2"
)

// catalog holds dataset and table metadata and keeps DuckDB schemas and
// tables in step with it. Metadata is mirrored into a DuckDB table so a
// file-backed server keeps its datasets and schemas across restarts.
type catalog struct {
	db *sql.DB

	mu       sync.RWMutex
	datasets map[string]*datasetEntry // key: project.dataset
}

type datasetEntry struct {
	ds     *bq.Dataset
	tables map[string]*bq.Table
}

const metaTable = `main."_bqemulator_meta"`

func newCatalog(db *sql.DB) *catalog {
	return &catalog{db: db, datasets: map[string]*datasetEntry{}}
}

func dsKey(project, dataset string) string { return project + "." + dataset }

// duckSchema is the DuckDB schema holding a dataset's tables.
func duckSchema(project, dataset string) string { return quoteIdent(dsKey(project, dataset)) }

// duckTable is the fully quoted DuckDB name of a BigQuery table.
func duckTable(project, dataset, table string) string {
	return duckSchema(project, dataset) + "." + quoteIdent(table)
}

func (c *catalog) load(ctx context.Context) error {
	if _, err := c.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+metaTable+` (kind VARCHAR, key VARCHAR PRIMARY KEY, body VARCHAR)`); err != nil {
		return fmt.Errorf("creating metadata table: %w", err)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT kind, body FROM `+metaTable+` ORDER BY kind, key`)
	if err != nil {
		return fmt.Errorf("reading metadata: %w", err)
	}
	defer rows.Close()
	var tables []*bq.Table
	for rows.Next() {
		var kind, body string
		if err := rows.Scan(&kind, &body); err != nil {
			return fmt.Errorf("scanning metadata: %w", err)
		}
		switch kind {
		case "dataset":
			var ds bq.Dataset
			if err := json.Unmarshal([]byte(body), &ds); err != nil {
				return fmt.Errorf("decoding dataset metadata: %w", err)
			}
			r := ds.DatasetReference
			c.datasets[dsKey(r.ProjectId, r.DatasetId)] = &datasetEntry{ds: &ds, tables: map[string]*bq.Table{}}
		case "table":
			var t bq.Table
			if err := json.Unmarshal([]byte(body), &t); err != nil {
				return fmt.Errorf("decoding table metadata: %w", err)
			}
			tables = append(tables, &t)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading metadata: %w", err)
	}
	for _, t := range tables {
		r := t.TableReference
		if e, ok := c.datasets[dsKey(r.ProjectId, r.DatasetId)]; ok {
			e.tables[r.TableId] = t
		}
	}
	return nil
}

func (c *catalog) saveMeta(ctx context.Context, tx *sql.Tx, kind, key string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s metadata: %w", kind, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO `+metaTable+` VALUES (?, ?, ?)`, kind, key, string(body)); err != nil {
		return fmt.Errorf("saving %s metadata: %w", kind, err)
	}
	return nil
}

func (c *catalog) deleteMeta(ctx context.Context, tx *sql.Tx, prefix string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+metaTable+` WHERE key = ? OR starts_with(key, ?)`, prefix, prefix+"/"); err != nil {
		return fmt.Errorf("deleting metadata %s: %w", prefix, err)
	}
	return nil
}

func tableKey(project, dataset, table string) string { return dsKey(project, dataset) + "/" + table }

// inTx runs fn in a DuckDB transaction.
func (c *catalog) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

func (c *catalog) createDataset(ctx context.Context, ds *bq.Dataset) error {
	r := ds.DatasetReference
	c.mu.Lock()
	defer c.mu.Unlock()
	key := dsKey(r.ProjectId, r.DatasetId)
	if _, ok := c.datasets[key]; ok {
		return errDuplicate("Dataset %s:%s", r.ProjectId, r.DatasetId)
	}
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+duckSchema(r.ProjectId, r.DatasetId)); err != nil {
			return fmt.Errorf("creating schema for dataset %s: %w", key, err)
		}
		return c.saveMeta(ctx, tx, "dataset", key, ds)
	})
	if err != nil {
		return err
	}
	c.datasets[key] = &datasetEntry{ds: ds, tables: map[string]*bq.Table{}}
	return nil
}

func (c *catalog) dataset(project, dataset string) (*bq.Dataset, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.datasets[dsKey(project, dataset)]
	if !ok {
		return nil, errNotFound("Dataset %s:%s", project, dataset)
	}
	return e.ds, nil
}

func (c *catalog) hasDataset(project, dataset string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.datasets[dsKey(project, dataset)]
	return ok
}

func (c *catalog) updateDataset(ctx context.Context, ds *bq.Dataset) error {
	r := ds.DatasetReference
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.datasets[dsKey(r.ProjectId, r.DatasetId)]
	if !ok {
		return errNotFound("Dataset %s:%s", r.ProjectId, r.DatasetId)
	}
	if err := c.inTx(ctx, func(tx *sql.Tx) error {
		return c.saveMeta(ctx, tx, "dataset", dsKey(r.ProjectId, r.DatasetId), ds)
	}); err != nil {
		return err
	}
	e.ds = ds
	return nil
}

func (c *catalog) listDatasets(project string) []*bq.Dataset {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*bq.Dataset
	for _, e := range c.datasets {
		if e.ds.DatasetReference.ProjectId == project {
			out = append(out, e.ds)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DatasetReference.DatasetId < out[j].DatasetReference.DatasetId })
	return out
}

func (c *catalog) deleteDataset(ctx context.Context, project, dataset string, deleteContents bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := dsKey(project, dataset)
	e, ok := c.datasets[key]
	if !ok {
		return errNotFound("Dataset %s:%s", project, dataset)
	}
	if len(e.tables) > 0 && !deleteContents {
		return errInvalid("Dataset %s:%s is still in use", project, dataset)
	}
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DROP SCHEMA `+duckSchema(project, dataset)+` CASCADE`); err != nil {
			return fmt.Errorf("dropping schema for dataset %s: %w", key, err)
		}
		return c.deleteMeta(ctx, tx, key)
	})
	if err != nil {
		return err
	}
	delete(c.datasets, key)
	return nil
}

// table returns the stored metadata (callers must not modify it).
func (c *catalog) table(project, dataset, table string) (*bq.Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tableLocked(project, dataset, table)
}

func (c *catalog) tableLocked(project, dataset, table string) (*bq.Table, error) {
	e, ok := c.datasets[dsKey(project, dataset)]
	if !ok {
		return nil, errNotFound("Dataset %s:%s", project, dataset)
	}
	t, ok := e.tables[table]
	if !ok {
		return nil, errNotFound("Table %s:%s.%s", project, dataset, table)
	}
	return t, nil
}

func (c *catalog) listTables(project, dataset string) ([]*bq.Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.datasets[dsKey(project, dataset)]
	if !ok {
		return nil, errNotFound("Dataset %s:%s", project, dataset)
	}
	out := make([]*bq.Table, 0, len(e.tables))
	for _, t := range e.tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TableReference.TableId < out[j].TableReference.TableId })
	return out, nil
}

// createTable creates a table or (when viewSQL is set) a view from translated SQL.
func (c *catalog) createTable(ctx context.Context, t *bq.Table, viewSQL string) error {
	r := t.TableReference
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.datasets[dsKey(r.ProjectId, r.DatasetId)]
	if !ok {
		return errNotFound("Dataset %s:%s", r.ProjectId, r.DatasetId)
	}
	if _, ok := e.tables[r.TableId]; ok {
		return errDuplicate("Table %s:%s.%s", r.ProjectId, r.DatasetId, r.TableId)
	}
	name := duckTable(r.ProjectId, r.DatasetId, r.TableId)
	var ddl string
	if viewSQL != "" {
		ddl = `CREATE VIEW ` + name + ` AS ` + viewSQL
	} else {
		cols := make([]string, 0, len(t.Schema.Fields))
		for _, f := range t.Schema.Fields {
			col := quoteIdent(f.Name) + " " + duckType(f)
			if isRequired(f) {
				col += " NOT NULL"
			}
			cols = append(cols, col)
		}
		ddl = `CREATE TABLE ` + name + ` (` + strings.Join(cols, ", ") + `)`
	}
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			if viewSQL != "" {
				return errInvalidQuery("creating view %s:%s.%s: %v", r.ProjectId, r.DatasetId, r.TableId, cleanDuckError(err))
			}
			return fmt.Errorf("creating table %s: %w", name, err)
		}
		if viewSQL != "" {
			schema, err := describeQuery(ctx, tx, `SELECT * FROM `+name)
			if err != nil {
				return errInvalidQuery("creating view %s:%s.%s: %v", r.ProjectId, r.DatasetId, r.TableId, cleanDuckError(err))
			}
			t.Schema = schema
		}
		return c.saveMeta(ctx, tx, "table", tableKey(r.ProjectId, r.DatasetId, r.TableId), t)
	})
	if err != nil {
		return err
	}
	e.tables[r.TableId] = t
	return nil
}

// replaceTableMeta stores updated metadata after DDL run by fn inside the same transaction.
func (c *catalog) updateTable(ctx context.Context, t *bq.Table, ddl []string) error {
	r := t.TableReference
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.datasets[dsKey(r.ProjectId, r.DatasetId)]
	if !ok {
		return errNotFound("Dataset %s:%s", r.ProjectId, r.DatasetId)
	}
	if _, ok := e.tables[r.TableId]; !ok {
		return errNotFound("Table %s:%s.%s", r.ProjectId, r.DatasetId, r.TableId)
	}
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range ddl {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("altering table %s:%s.%s: %w", r.ProjectId, r.DatasetId, r.TableId, err)
			}
		}
		return c.saveMeta(ctx, tx, "table", tableKey(r.ProjectId, r.DatasetId, r.TableId), t)
	})
	if err != nil {
		return err
	}
	e.tables[r.TableId] = t
	return nil
}

func (c *catalog) deleteTable(ctx context.Context, project, dataset, table string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.tableLocked(project, dataset, table)
	if err != nil {
		return err
	}
	kind := "TABLE"
	if t.View != nil {
		kind = "VIEW"
	}
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DROP `+kind+` `+duckTable(project, dataset, table)); err != nil {
			return errInvalid("Cannot delete %s:%s.%s: %v", project, dataset, table, cleanDuckError(err))
		}
		return c.deleteMeta(ctx, tx, tableKey(project, dataset, table))
	})
	if err != nil {
		return err
	}
	delete(c.datasets[dsKey(project, dataset)].tables, table)
	return nil
}

// describeQuery returns the BigQuery schema of a DuckDB query without running it.
func describeQuery(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string) (*bq.TableSchema, error) {
	rows, err := q.QueryContext(ctx, `DESCRIBE `+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	schema := &bq.TableSchema{}
	i := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		f, err := fieldFromDuckType(resultColumnName(name, i), typ)
		if err != nil {
			return nil, err
		}
		schema.Fields = append(schema.Fields, f)
		i++
	}
	return schema, rows.Err()
}

// resultColumnName gives unnamed expression columns BigQuery's f<i>_ names.
func resultColumnName(name string, i int) string {
	if fieldNameRE.MatchString(name) {
		return name
	}
	return fmt.Sprintf("f%d_", i)
}

// cleanDuckError strips DuckDB's multi-line context from an error message.
func cleanDuckError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
