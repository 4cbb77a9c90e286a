// Package bqemulator is a local BigQuery server backed by embedded DuckDB.
// The official cloud.google.com/go/bigquery client talks to it unchanged:
// REST (datasets, tables, tabledata, jobs) and, on the same port, the
// Storage Write API over gRPC (sub-package storagewrite).
//
// # Starting it
//
//	srv, err := bqemulator.NewServer(bqemulator.WithProject("my-project"))
//	defer srv.Close()
//	client, err := bigquery.NewClient(ctx, "my-project",
//		option.WithEndpoint(srv.Endpoint()), // "http://127.0.0.1:PORT/bigquery/v2/"
//		option.WithoutAuthentication())
//
// The standalone binary is scripts/bqemulator (flags --addr, --project,
// --database). The Go BigQuery client does not read BIGQUERY_EMULATOR_HOST
// itself; by convention our code reads BIGQUERY_EMULATOR_HOST=host:port and
// then passes option.WithEndpoint("http://host:port/bigquery/v2/") and
// option.WithoutAuthentication() for REST, and, for managedwriter,
// option.WithEndpoint("host:port"), option.WithoutAuthentication() and
// option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())).
// One port serves both: connections starting with the HTTP/2 preface go to
// the gRPC server, everything else to the HTTP/1.1 REST handler.
//
// # Storage
//
// Each dataset is a DuckDB schema named "project.dataset"; each table a
// DuckDB table with mapped types (RECORD→STRUCT, REPEATED→LIST,
// TIMESTAMP and DATETIME→TIMESTAMP holding UTC, NUMERIC/BIGNUMERIC→DECIMAL(38,9),
// BYTES→BLOB, JSON→JSON). Views are DuckDB views over the translated SQL.
// Dataset and table metadata is mirrored in a DuckDB table, so WithDatabase
// keeps everything across restarts; jobs and their results live in memory.
//
// Canonical row values (Rows, Query, InsertRows and the storagewrite Backend):
// STRING/JSON string, BYTES []byte, INTEGER int64, FLOAT float64,
// NUMERIC/BIGNUMERIC decimal string, BOOLEAN bool, TIMESTAMP time.Time (UTC, µs),
// DATE civil.Date, TIME civil.Time, DATETIME civil.DateTime, RECORD map[string]any,
// REPEATED []any; nil or a missing key is NULL.
//
// # Where it differs from BigQuery
//
//   - No auth, IAM, billing, quotas, locations (everything reports "US"),
//     slots, caching, sessions, or table expiration.
//   - Rows written by insertAll are immediately visible to queries and
//     tabledata.list (no streaming buffer); numRows is always exact.
//   - insertId dedup: an id is remembered per table for a window (one minute
//     by default, WithDedupWindow) measured on the settable clock; rows with an
//     id seen in the window are dropped silently. Failed requests do not
//     register ids. BigQuery's dedup is best-effort; this one is exact.
//   - Queries run synchronously inside jobs.insert/jobs.query; jobs are DONE
//     when returned, jobs.cancel is a no-op, timeoutMs is ignored.
//   - Only query jobs: load, copy and extract jobs return 400 "not supported".
//   - SQL is BigQuery Standard SQL rewritten by a tokenizer for DuckDB. Supported:
//     `project.dataset.table`, `dataset.table` and dataset.table (default project),
//     UNNEST(arr) [AS] x in FROM / CROSS JOIN, FROM t, t.arr, IN UNNEST(@arr),
//   - EXCEPT(...), QUALIFY, window functions, WITH, joins incl. USING,
//     NOT EXISTS, COUNTIF, ARRAY_AGG (DISTINCT, ORDER BY, IGNORE NULLS, LIMIT),
//     STRUCT(...), arr[OFFSET(i)]/[ORDINAL(i)], IFNULL, IF, SAFE_CAST/CAST with
//     BigQuery type names, CURRENT_TIMESTAMP/DATE (from the server clock),
//     TIMESTAMP/DATE/DATETIME _ADD/_SUB/_TRUNC/_DIFF, DATE(), TIMESTAMP(),
//     EXTRACT, FORMAT_/PARSE_ TIMESTAMP/DATE/DATETIME (common % formats),
//     UNIX_*, TIMESTAMP_SECONDS/MILLIS/MICROS, REGEXP_CONTAINS/EXTRACT/REPLACE,
//     STARTS_WITH, SAFE_DIVIDE, JSON_VALUE/QUERY/EXTRACT(_SCALAR), SPLIT,
//     GENERATE_ARRAY, LOGICAL_OR/AND, named (@x) and positional (?) parameters
//     (scalars, arrays, structs; inlined as typed literals). Other functions
//     are passed to DuckDB by name and work where DuckDB has the same function.
//   - INFORMATION_SCHEMA.TABLES and .COLUMNS of a dataset (dataset.INFORMATION_SCHEMA.X,
//     `project.dataset`.INFORMATION_SCHEMA.X, INFORMATION_SCHEMA.X under a default
//     dataset) or of the whole project (`region-us`.INFORMATION_SCHEMA.X), read from
//     the catalog when the query is translated. TABLES has table_catalog, table_schema,
//     table_name, table_type, is_insertable_into, is_typed, creation_time and ddl;
//     COLUMNS has table_catalog, table_schema, table_name, column_name,
//     ordinal_position, is_nullable, data_type (GoogleSQL names: INT64, ARRAY<STRING>,
//     STRUCT<...>), is_hidden, is_system_defined, is_partitioning_column and
//     clustering_ordinal_position. Other views and columns are not there, and a view
//     cannot select from INFORMATION_SCHEMA.
//   - Not supported (400 invalidQuery naming the construct): legacy SQL, DML and
//     DDL statements, scripts, wildcard tables and partition decorators,
//     UNNEST ... WITH OFFSET, SELECT AS STRUCT/VALUE,
//     PIVOT/UNPIVOT, TABLESAMPLE, time travel, SAFE./NET./ML. prefixed
//     functions, typed STRUCT<...>(...) constructors, time zones other than UTC
//     (every connection runs in UTC), APPROX_QUANTILES and other sketches.
//     Errors DuckDB raises for translated SQL come back as 400 invalidQuery
//     with DuckDB's message.
//   - Query result types come from DuckDB: DATETIME results are reported as
//     TIMESTAMP, integer-valued expressions as INTEGER, DECIMAL as NUMERIC,
//     JSON columns as STRING. Table reads (tabledata.list, Rows) use the
//     table schema and are exact.
//   - NUMERIC and BIGNUMERIC hold DECIMAL(38,9) (BIGNUMERIC's extra range and
//     scale are not kept). TIMESTAMP is microsecond UTC, as in BigQuery.
//   - Schema updates: adding NULLABLE/REPEATED columns and relaxing REQUIRED
//     are allowed, as in BigQuery; adding fields inside an existing RECORD is
//     refused (DuckDB cannot alter a STRUCT column in place).
//   - View queries must be Standard SQL; a view's query cannot be patched.
//   - Result and list pages default to 100,000 rows; there is no 10 MB
//     response cap. tables.list and datasets.list return a single page.
//   - Tables must have a schema at creation (schemaless tables are refused).
//
// # Test helpers
//
// CreateDataset, CreateTable, CreateView, InsertRows, Rows and Query seed and
// inspect state without HTTP. SetFault/ClearFault (or Faults().Set) make a
// method such as "tabledata.insertAll", "jobs.query" or "tables.get" fail
// with a *googleapi.Error (or gRPC status) a number of times or until cleared;
// the storagewrite service consults the same registry with its RPC names.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package bqemulator
