// Package storagewrite serves the BigQuery Storage Write API
// (google.cloud.bigquery.storage.v1.BigQueryWrite) over gRPC on top of a Backend table store, so
// the official cloud.google.com/go/bigquery/storage/managedwriter client appends rows to a
// local server unchanged.
//
// Rows arrive as serialized protocol buffers described by the writer schema of the first
// request (managedwriter's adapt.NormalizeDescriptor form). The service compiles that
// descriptor once per connection, decodes each row by the table's column types using the wire
// encodings of https://cloud.google.com/bigquery/docs/supported-data-types, and hands the
// Backend canonical Go values: STRING, JSON, GEOGRAPHY and INTERVAL are string; BYTES []byte;
// INT64 int64; FLOAT64 float64; NUMERIC and BIGNUMERIC decimal text (minimal form, "1.5");
// BOOL bool; TIMESTAMP time.Time in UTC with microseconds; DATE civil.Date; TIME civil.Time;
// DATETIME civil.DateTime; RECORD map[string]any; REPEATED []any. NULL is a missing key.
//
// What it implements: the _default stream (at-least-once, committed on acknowledgement,
// multiplexing several tables on one connection); COMMITTED, PENDING and BUFFERED streams with
// offsets (ALREADY_EXISTS behind the end, OUT_OF_RANGE beyond it); GetWriteStream (BASIC and
// FULL views); FinalizeWriteStream; BatchCommitWriteStreams; FlushRows. Row errors come back as
// the real service sends them: an AppendRowsResponse whose error is INVALID_ARGUMENT and whose
// row_errors hold one FIELDS_ERROR per bad row; nothing of that request is appended.
//
// Where it differs from the real service:
//   - Only proto rows; Arrow rows end the connection with INVALID_ARGUMENT. RANGE columns are
//     not decoded (a writer schema with one is rejected).
//   - A writer schema field with no column ends the connection with INVALID_ARGUMENT ("Input
//     schema has more fields than BigQuery schema"), as BigQuery does. Fields present on the
//     wire but absent from the writer schema are a row error here; BigQuery's handling of them
//     is undocumented.
//   - A REQUIRED column missing from a row is a row error from the decoder and from the
//     Backend; BigQuery reports it the same way but its message text differs.
//   - NUMERIC and BIGNUMERIC text with more fractional digits than the scale is rounded half
//     away from zero; DATETIME and TIME text with sub-microsecond digits is truncated.
//   - The writer schema may change on any request, for explicit streams too (the real service
//     needs a new connection for an explicit stream); updated_schema is never sent.
//   - missing_value_interpretations and default values are ignored: a missing value is NULL.
//   - PENDING and BUFFERED rows are held in memory by the service until commit or flush; they
//     are checked at append time by the decoder and, if the Backend implements Validator, by
//     it. Streams never expire, and stream ids are sequential ("s1", "s2").
//   - The request size limit is DefaultMaxRequestBytes (10 MB, as managedwriter documents; the
//     API reference now says 20 MB) and is answered in-band; gRPC's own 4 MB receive limit must
//     be raised with Service.ServerOptions.
//   - Quotas, throughput limits, CMEK, row-level access and the write_location routing header
//     do not exist; errors carry StorageError details for stream and offset problems only.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package storagewrite
