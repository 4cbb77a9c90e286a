package bqemulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

func (s *Server) handleTableInsert(w http.ResponseWriter, r *http.Request) (any, error) {
	project, dataset := r.PathValue("project"), r.PathValue("dataset")
	var raw json.RawMessage
	if err := decodeBody(r, &raw, false); err != nil {
		return nil, err
	}
	var t bq.Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, errInvalid("Invalid table resource: %v", err)
	}
	var legacy struct {
		View *struct {
			UseLegacySQL *bool `json:"useLegacySql"`
		} `json:"view"`
	}
	json.Unmarshal(raw, &legacy)
	if legacy.View != nil && legacy.View.UseLegacySQL != nil && *legacy.View.UseLegacySQL {
		return nil, errUnsupported("Legacy SQL views (view.useLegacySql=true)")
	}
	if t.TableReference == nil {
		t.TableReference = &bq.TableReference{}
	}
	t.TableReference.ProjectId = project
	t.TableReference.DatasetId = dataset
	return s.insertTableMeta(r.Context(), &t)
}

// insertTable validates and creates a table or view.
func (s *Server) insertTableMeta(ctx context.Context, t *bq.Table) (*bq.Table, error) {
	ref := t.TableReference
	if ref == nil || ref.TableId == "" {
		return nil, errInvalid("Table reference is missing the tableId")
	}
	if !tableIDRE.MatchString(ref.TableId) {
		return nil, errInvalid("Invalid table ID %q.", ref.TableId)
	}
	if t.ExternalDataConfiguration != nil {
		return nil, errUnsupported("External tables")
	}
	if t.MaterializedView != nil {
		return nil, errUnsupported("Materialized views")
	}
	now := s.now().UnixMilli()
	t.Kind = "bigquery#table"
	t.Id = fmt.Sprintf("%s:%s.%s", ref.ProjectId, ref.DatasetId, ref.TableId)
	t.SelfLink = s.Endpoint() + "projects/" + ref.ProjectId + "/datasets/" + ref.DatasetId + "/tables/" + ref.TableId
	t.CreationTime = now
	t.LastModifiedTime = uint64(now)
	t.Etag = strconv.FormatInt(now, 36)
	if t.Location == "" {
		t.Location = "US"
	}
	var viewSQL string
	if t.View != nil {
		if strings.TrimSpace(t.View.Query) == "" {
			return nil, errInvalid("View %s is missing a query", t.Id)
		}
		t.Type = "VIEW"
		t.View.UseLegacySql = false
		tr, err := s.translate(t.View.Query, translateOptions{defaultProject: ref.ProjectId, defaultDataset: ref.DatasetId, forView: true})
		if err != nil {
			return nil, err
		}
		viewSQL = tr.sql
	} else {
		t.Type = "TABLE"
		if t.Schema == nil {
			t.Schema = &bq.TableSchema{}
		}
		fields, err := normalizeFields(t.Schema.Fields, "")
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			// BigQuery allows schemaless tables; DuckDB needs a column, so keep none and refuse inserts.
			return nil, errUnsupported("Tables without a schema")
		}
		t.Schema = &bq.TableSchema{Fields: fields}
	}
	if err := s.cat.createTable(ctx, t, viewSQL); err != nil {
		return nil, err
	}
	return s.tableView(ctx, t)
}

var tableIDRE = mustRE(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}$]+$`)

// tableView returns a copy of table metadata with live row counts.
func (s *Server) tableView(ctx context.Context, t *bq.Table) (*bq.Table, error) {
	s.cat.mu.RLock()
	out := *t
	s.cat.mu.RUnlock()
	if out.Type == "TABLE" {
		r := out.TableReference
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+duckTable(r.ProjectId, r.DatasetId, r.TableId)).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting rows of %s: %w", out.Id, err)
		}
		out.NumRows = uint64(n)
		out.NumBytes = n * 100 // BigQuery's logical bytes are not modelled; a rough estimate.
	}
	return &out, nil
}

func (s *Server) handleTableList(w http.ResponseWriter, r *http.Request) (any, error) {
	tables, err := s.cat.listTables(r.PathValue("project"), r.PathValue("dataset"))
	if err != nil {
		return nil, err
	}
	list := &bq.TableList{Kind: "bigquery#tableList", Tables: []*bq.TableListTables{}, TotalItems: int64(len(tables))}
	s.cat.mu.RLock()
	defer s.cat.mu.RUnlock()
	for _, t := range tables {
		lt := &bq.TableListTables{
			Kind:              "bigquery#table",
			Id:                t.Id,
			TableReference:    t.TableReference,
			Type:              t.Type,
			CreationTime:      t.CreationTime,
			FriendlyName:      t.FriendlyName,
			Labels:            t.Labels,
			TimePartitioning:  t.TimePartitioning,
			RangePartitioning: t.RangePartitioning,
			Clustering:        t.Clustering,
		}
		if t.View != nil {
			lt.View = &bq.TableListTablesView{UseLegacySql: false}
		}
		list.Tables = append(list.Tables, lt)
	}
	return list, nil
}

func (s *Server) handleTableGet(w http.ResponseWriter, r *http.Request) (any, error) {
	t, err := s.cat.table(r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table"))
	if err != nil {
		return nil, err
	}
	return s.tableView(r.Context(), t)
}

func (s *Server) handleTableDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, s.cat.deleteTable(r.Context(), r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table"))
}

func (s *Server) handleTablePatch(w http.ResponseWriter, r *http.Request) (any, error) {
	project, dataset, table := r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table")
	var patch bq.Table
	if err := decodeBody(r, &patch, false); err != nil {
		return nil, err
	}
	cur, err := s.cat.table(project, dataset, table)
	if err != nil {
		return nil, err
	}
	s.cat.mu.RLock()
	next := *cur
	s.cat.mu.RUnlock()
	put := r.Method == http.MethodPut
	if patch.Description != "" || put {
		next.Description = patch.Description
	}
	if patch.FriendlyName != "" || put {
		next.FriendlyName = patch.FriendlyName
	}
	if patch.Labels != nil || put {
		next.Labels = patch.Labels
	}
	if patch.ExpirationTime != 0 || put {
		next.ExpirationTime = patch.ExpirationTime
	}
	if patch.Clustering != nil {
		next.Clustering = patch.Clustering
	}
	if patch.View != nil && next.View != nil && patch.View.Query != next.View.Query {
		return nil, errUnsupported("Changing a view's query (delete and recreate the view)")
	}
	var ddl []string
	if patch.Schema != nil && next.View == nil {
		fields, err := normalizeFields(patch.Schema.Fields, "")
		if err != nil {
			return nil, err
		}
		ddl, err = schemaChanges(duckTable(project, dataset, table), next.Id, cur.Schema.Fields, fields)
		if err != nil {
			return nil, err
		}
		next.Schema = &bq.TableSchema{Fields: fields}
	}
	now := s.now().UnixMilli()
	next.LastModifiedTime = uint64(now)
	next.Etag = strconv.FormatInt(now, 36)
	s.writeMu.Lock()
	err = s.cat.updateTable(r.Context(), &next, ddl)
	s.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.tableView(r.Context(), &next)
}

// schemaChanges returns the DDL for a schema update, allowing only what
// BigQuery allows: appending NULLABLE/REPEATED columns and relaxing REQUIRED.
func schemaChanges(duckName, id string, old, next []*bq.TableFieldSchema) ([]string, error) {
	var ddl []string
	nextByName := fieldsByName(next)
	for _, of := range old {
		nf, ok := nextByName[strings.ToLower(of.Name)]
		if !ok {
			return nil, errInvalid("Provided Schema does not match Table %s. Field %s is missing in new schema", id, of.Name)
		}
		if nf.Type != of.Type {
			return nil, errInvalid("Provided Schema does not match Table %s. Field %s has changed type from %s to %s", id, of.Name, of.Type, nf.Type)
		}
		om, nm := modeOf(of), modeOf(nf)
		if om != nm {
			if om == "REQUIRED" && nm == "NULLABLE" {
				ddl = append(ddl, `ALTER TABLE `+duckName+` ALTER COLUMN `+quoteIdent(of.Name)+` DROP NOT NULL`)
			} else {
				return nil, errInvalid("Provided Schema does not match Table %s. Field %s has changed mode from %s to %s", id, of.Name, om, nm)
			}
		}
		if of.Type == tRecord && duckType(of) != duckType(nf) {
			return nil, errUnsupported("Changing the fields of existing RECORD column " + of.Name)
		}
	}
	oldByName := fieldsByName(old)
	for _, nf := range next {
		if _, ok := oldByName[strings.ToLower(nf.Name)]; ok {
			continue
		}
		if modeOf(nf) == "REQUIRED" {
			return nil, errInvalid("Provided Schema does not match Table %s. Cannot add required fields to an existing schema. (field: %s)", id, nf.Name)
		}
		ddl = append(ddl, `ALTER TABLE `+duckName+` ADD COLUMN `+quoteIdent(nf.Name)+` `+duckType(nf))
	}
	return ddl, nil
}

func modeOf(f *bq.TableFieldSchema) string {
	if f.Mode == "" {
		return "NULLABLE"
	}
	return f.Mode
}
