// Package redrive publishes dead letters again, once each, after the cause that dead-lettered
// them is fixed. It selects dead letters not yet redriven (the dead_letters_pending view) by
// reason, kind, stage and time, republishes each to the events topic with its original data
// and attributes plus the redrive attributes (event.AttrRedriveOf, AttrRedrivePublishTime,
// AttrRedriveID), and appends a row per dead letter to the redrives table.
//
// Marking is append-only: BigQuery's documentation says rows recently written through the
// Storage Write API (as the loader writes dead letters) may not be changed by UPDATE, DELETE or
// MERGE for about 30 minutes ("Rows that were recently written using the BigQuery Storage Write
// API (REST) can't be modified with ... DML ... The recent writes are those that occurred within
// the last 30 minutes", https://docs.cloud.google.com/bigquery/docs/data-manipulation-language),
// and other versions of the page call the relaxation a Preview; appending works at once and
// keeps dead_letters as the loader wrote it. The redrives rows are written to the default
// stream, which is committed: "Data will commit automatically and appear as soon as the write is
// acknowledged" (WriteStream.Type COMMITTED,
// https://cloud.google.com/dotnet/docs/reference/Google.Cloud.BigQuery.Storage.V1/latest/Google.Cloud.BigQuery.Storage.V1.WriteStream.Types.Type),
// so the next run's selection no longer sees them.
//
// Guarantees. A run hands messages to Pub/Sub in batches; once a message is handed over, the run
// waits for its id and appends its redrives row even when interrupted (the context is cancelled,
// as Ctrl-C does), so an interrupted run that is started again sends nothing twice. A crash
// (the process killed) between a publish and its row leaves at most one batch published but not
// marked; the next run sends those again. Their copies carry the same first-delivery id and
// publish time, so the loader makes rows with the same dedup keys (tweet_id; app and event_id,
// "msg:<id>" without one; message_id) and the dedup views hold each once.
//
// Reference: docs/operations.md#redrive.
package redrive
