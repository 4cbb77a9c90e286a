package bqemulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

// infoColumn is one column of an INFORMATION_SCHEMA view: its name and DuckDB type.
type infoColumn struct{ name, duckType string }

// The columns of the views, in BigQuery's order (the ones this server can fill).
var (
	infoTablesColumns = []infoColumn{
		{"table_catalog", "VARCHAR"}, {"table_schema", "VARCHAR"}, {"table_name", "VARCHAR"},
		{"table_type", "VARCHAR"}, {"is_insertable_into", "VARCHAR"}, {"is_typed", "VARCHAR"},
		{"creation_time", "TIMESTAMP"}, {"ddl", "VARCHAR"},
	}
	infoColumnsColumns = []infoColumn{
		{"table_catalog", "VARCHAR"}, {"table_schema", "VARCHAR"}, {"table_name", "VARCHAR"},
		{"column_name", "VARCHAR"}, {"ordinal_position", "BIGINT"}, {"is_nullable", "VARCHAR"},
		{"data_type", "VARCHAR"}, {"is_hidden", "VARCHAR"}, {"is_system_defined", "VARCHAR"},
		{"is_partitioning_column", "VARCHAR"}, {"clustering_ordinal_position", "BIGINT"},
	}
)

// infoSchemaPath reports whether parts name an INFORMATION_SCHEMA view and splits the path:
// [project.]dataset.INFORMATION_SCHEMA.VIEW, [project.]`region-us`.INFORMATION_SCHEMA.VIEW, or
// INFORMATION_SCHEMA.VIEW under a default dataset.
func infoSchemaPath(parts []string) (qualifier []string, view string, ok bool) {
	for i, p := range parts {
		if strings.EqualFold(p, "INFORMATION_SCHEMA") {
			if i != len(parts)-2 {
				return parts[:i], "", true
			}
			return parts[:i], strings.ToUpper(parts[i+1]), true
		}
	}
	return nil, "", false
}

// informationSchema translates a dataset's (or the project's, with a region qualifier)
// INFORMATION_SCHEMA.TABLES or .COLUMNS into a DuckDB subquery over the catalog as it is when
// the query is translated.
func (tr *translator) informationSchema(parts, qualifier []string, view string) (string, error) {
	path := strings.Join(parts, ".")
	if tr.opts.forView {
		return "", errUnsupported("INFORMATION_SCHEMA in a view")
	}
	if view != "TABLES" && view != "COLUMNS" {
		return "", errUnsupported("INFORMATION_SCHEMA view " + path + " (only TABLES and COLUMNS)")
	}
	project, dataset := tr.opts.defaultProject, tr.opts.defaultDataset
	switch len(qualifier) {
	case 0:
		if dataset == "" {
			return "", errInvalidQuery("Table %s must be qualified with a dataset (e.g. dataset.%s) or a region (e.g. `region-us`.%s).", path, path, path)
		}
	case 1:
		dataset = qualifier[0]
	case 2:
		project, dataset = qualifier[0], qualifier[1]
	default:
		return "", errInvalidQuery("Invalid table name %s", path)
	}
	var datasets []string
	if region, ok := strings.CutPrefix(strings.ToLower(dataset), "region-"); ok {
		if region != "us" {
			return "", errInvalidQuery("Table %s: this server keeps every dataset in location US; use `region-us`", path)
		}
		for _, ds := range tr.s.cat.listDatasets(project) {
			datasets = append(datasets, ds.DatasetReference.DatasetId)
		}
	} else {
		if !tr.s.cat.hasDataset(project, dataset) {
			return "", errNotFound("Dataset %s:%s was not found in location US", project, dataset)
		}
		datasets = []string{dataset}
	}
	var tables []*bq.Table
	for _, ds := range datasets {
		ts, err := tr.s.cat.listTables(project, ds)
		if err != nil {
			return "", err
		}
		tables = append(tables, ts...)
	}
	if view == "TABLES" {
		return valuesSubquery(infoTablesColumns, tablesRows(tables)), nil
	}
	return valuesSubquery(infoColumnsColumns, columnsRows(tables)), nil
}

// tablesRows renders one INFORMATION_SCHEMA.TABLES row of SQL literals per table.
func tablesRows(tables []*bq.Table) [][]string {
	var rows [][]string
	for _, t := range tables {
		r := t.TableReference
		typ, insertable := "BASE TABLE", "YES"
		if t.View != nil {
			typ, insertable = "VIEW", "NO"
		}
		rows = append(rows, []string{
			quoteString(r.ProjectId), quoteString(r.DatasetId), quoteString(r.TableId),
			quoteString(typ), quoteString(insertable), quoteString("NO"),
			"TIMESTAMP '" + time.UnixMilli(t.CreationTime).UTC().Format("2006-01-02 15:04:05.999999") + "'",
			quoteString(tableDDL(t)),
		})
	}
	return rows
}

// columnsRows renders one INFORMATION_SCHEMA.COLUMNS row of SQL literals per top-level column.
func columnsRows(tables []*bq.Table) [][]string {
	var rows [][]string
	for _, t := range tables {
		r := t.TableReference
		clustering := map[string]int{}
		if t.Clustering != nil {
			for i, f := range t.Clustering.Fields {
				clustering[strings.ToLower(f)] = i + 1
			}
		}
		partitionField := ""
		if t.TimePartitioning != nil {
			partitionField = strings.ToLower(t.TimePartitioning.Field)
		}
		var fields []*bq.TableFieldSchema
		if t.Schema != nil {
			fields = t.Schema.Fields
		}
		for i, f := range fields {
			nullable := "YES"
			if isRequired(f) || isRepeated(f) {
				nullable = "NO" // an ARRAY is never NULL in BigQuery
			}
			partitioning := "NO"
			if partitionField != "" && strings.ToLower(f.Name) == partitionField {
				partitioning = "YES"
			}
			clusterPos := "CAST(NULL AS BIGINT)"
			if n, ok := clustering[strings.ToLower(f.Name)]; ok {
				clusterPos = strconv.Itoa(n)
			}
			rows = append(rows, []string{
				quoteString(r.ProjectId), quoteString(r.DatasetId), quoteString(r.TableId),
				quoteString(f.Name), strconv.Itoa(i + 1), quoteString(nullable), quoteString(sqlTypeName(f)),
				quoteString("NO"), quoteString("NO"), quoteString(partitioning), clusterPos,
			})
		}
	}
	return rows
}

// valuesSubquery builds a typed DuckDB subquery over rows of SQL literals. A first row of typed
// NULLs fixes the column types (and makes an empty view valid); it is filtered out.
func valuesSubquery(cols []infoColumn, rows [][]string) string {
	names := make([]string, len(cols))
	nulls := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		nulls[i] = "CAST(NULL AS " + c.duckType + ")"
	}
	var sb strings.Builder
	sb.WriteString("(SELECT * FROM (VALUES (" + strings.Join(nulls, ", ") + ")")
	for _, r := range rows {
		sb.WriteString(", (" + strings.Join(r, ", ") + ")")
	}
	sb.WriteString(") AS _information_schema(" + strings.Join(names, ", ") + ") WHERE table_name IS NOT NULL)")
	return sb.String()
}

// sqlTypeName is a field's type as GoogleSQL spells it in INFORMATION_SCHEMA and DDL:
// INT64, FLOAT64, BOOL, STRUCT<a INT64, b STRING>, ARRAY<STRING>, NUMERIC(10, 2), STRING(20).
func sqlTypeName(f *bq.TableFieldSchema) string {
	var base string
	switch strings.ToUpper(f.Type) {
	case tInteger, "INT64":
		base = "INT64"
	case tFloat, "FLOAT64":
		base = "FLOAT64"
	case tBoolean, "BOOL":
		base = "BOOL"
	case tRecord, "STRUCT":
		parts := make([]string, len(f.Fields))
		for i, sf := range f.Fields {
			parts[i] = sf.Name + " " + sqlTypeName(sf)
		}
		base = "STRUCT<" + strings.Join(parts, ", ") + ">"
	case tNumeric, tBigNumeric, "DECIMAL", "BIGDECIMAL":
		base = strings.ToUpper(f.Type)
		if f.Precision > 0 {
			base += fmt.Sprintf("(%d, %d)", f.Precision, f.Scale)
		}
	case tString, tBytes:
		base = strings.ToUpper(f.Type)
		if f.MaxLength > 0 {
			base += fmt.Sprintf("(%d)", f.MaxLength)
		}
	default:
		base = strings.ToUpper(f.Type)
	}
	if isRepeated(f) {
		return "ARRAY<" + base + ">"
	}
	return base
}

// tableDDL is the CREATE statement BigQuery shows in INFORMATION_SCHEMA.TABLES.ddl.
func tableDDL(t *bq.Table) string {
	r := t.TableReference
	name := "`" + r.ProjectId + "." + r.DatasetId + "." + r.TableId + "`"
	if t.View != nil {
		return "CREATE VIEW " + name + "\nAS " + t.View.Query + ";"
	}
	var cols []string
	if t.Schema != nil {
		for _, f := range t.Schema.Fields {
			col := "  " + f.Name + " " + sqlTypeName(f)
			if isRequired(f) {
				col += " NOT NULL"
			}
			cols = append(cols, col)
		}
	}
	ddl := "CREATE TABLE " + name + "\n(\n" + strings.Join(cols, ",\n") + "\n)"
	if tp := t.TimePartitioning; tp != nil {
		if tp.Field != "" {
			ddl += "\nPARTITION BY " + partitionExpr(t, tp)
		} else {
			ddl += "\nPARTITION BY _PARTITIONDATE"
		}
	}
	if t.Clustering != nil && len(t.Clustering.Fields) > 0 {
		ddl += "\nCLUSTER BY " + strings.Join(t.Clustering.Fields, ", ")
	}
	return ddl + ";"
}

// partitionExpr is the PARTITION BY expression of a column-partitioned table.
func partitionExpr(t *bq.Table, tp *bq.TimePartitioning) string {
	var typ string
	for _, f := range t.Schema.Fields {
		if strings.EqualFold(f.Name, tp.Field) {
			typ = strings.ToUpper(f.Type)
		}
	}
	if typ == tDate {
		if tp.Type == "" || tp.Type == "DAY" {
			return tp.Field
		}
		return "DATE_TRUNC(" + tp.Field + ", " + tp.Type + ")"
	}
	if tp.Type == "" || tp.Type == "DAY" {
		return "DATE(" + tp.Field + ")"
	}
	if typ == tDatetime {
		return "DATETIME_TRUNC(" + tp.Field + ", " + tp.Type + ")"
	}
	return "TIMESTAMP_TRUNC(" + tp.Field + ", " + tp.Type + ")"
}
