// Package backfill is the core of the backfill service: it parses and validates a
// POST /backfills spec (ParseSpec), lays it out as index-addressable tasks (Spec.Plan,
// Plan.Task), and keeps the job and the exact outcome of every task in Firestore (Store),
// under Cloud Tasks' at-least-once delivery.
//
// A backfill walks: Backfill (function) -> ParseSpec -> Plan -> Store.CreateJob -> taskqueue
// (expansion tasks carry [from, to) and call Plan.Task) -> RunBackfillTask -> sources ->
// warehouse (Rows) + Store.Record* -> Store.Status.
//
// Firestore layout:
//
//	backfills/{job}                     the job: spec, planned, state, enqueued, cancelled, blocked
//	backfills/{job}/shards/{t<index>}   one per task with an outcome: state, attempts, reason, rows
//	backfills/{job}/counters/{n}        sharded counters summed by Status
//	backfills/{job}/raw/{id}-p{k}       raw API responses, split in parts under 1 MiB
//
// The job document is written at plan, enqueue, cancel, block and retry time only, never per
// task: per-task counts go to the counter shards, spread so that no document takes more than
// about one write per second.
//
// Reference: docs/backfills.md.
package backfill
