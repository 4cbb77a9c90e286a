# Firestore (native mode) keeps the stream lease, CollectEvents' seen event ids and backfill jobs.
# A project has one (default) database; if yours already has one, import it:
#   terraform import google_firestore_database.main "projects/PROJECT/databases/(default)"
resource "google_firestore_database" "main" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Destroying the configuration leaves the database (and its data) in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.api]
}

# Firestore deletes a seen-id document once its expires_at has passed, so the dedup collection
# does not grow without end. The field's single-field indexes are dropped: nothing queries it,
# and an index on a steadily increasing timestamp limits the write rate.
resource "google_firestore_field" "dedup_expires_at" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = var.dedup_collection
  field      = "expires_at"

  index_config {}

  ttl_config {}
}

# The rankings' own database (rankings.tf): what UpdateRankings writes and ServeRankings reads,
# apart from everything else so a grant conditioned on it reaches nothing more. Firestore's free
# tier applies to one database per project (https://cloud.google.com/firestore/quotas), so its
# reads and writes are billed from the first.
resource "google_firestore_database" "rankings" {
  name        = var.rankings_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Destroying the configuration leaves the database (and its data) in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.api]
}

# The scheduled sweep's rotation (shared/backfill/sweepturn.go): active backfill jobs, the one a
# sweep looked at longest ago first, i.e. `state in [planning, running, cancelled]` ordered by
# swept_at. A query that filters on one field and orders by another is answered only from a
# composite index of the two (https://cloud.google.com/firestore/docs/concepts/index-overview,
# "Composite indexes"); the local emulator answers it without one.
resource "google_firestore_index" "backfill_sweep_rotation" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "backfills"

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "swept_at"
    order      = "ASCENDING"
  }
}

# Fields of a backfill job's write-heavy subcollections that no query filters or orders on lose
# their single-field indexes. Every indexed field costs index writes on every document write,
# and an indexed field whose values grow with time (a task's index, updated_at, a counter's
# running totals) limits the collection to 500 writes/s whatever the document ids
# (https://cloud.google.com/firestore/docs/solutions/shard-timestamp: "If your app doesn't use
# the timestamp field in any queries, you can remove the 500 writes per second limit by not
# indexing the timestamp field"; https://cloud.google.com/firestore/docs/best-practices, "Reduce
# write latency": index fanout). What stays indexed is what is queried (shared/backfill):
# shards.state (the failed and retried shards: Where("state", "==", ...)) and quota.at
# (OrderBy("at")); the sweep's walk orders by document id, which needs no field index. Firestore
# allows 200 single-field index exemptions per database (https://cloud.google.com/firestore/quotas);
# these are 30.
locals {
  backfill_unindexed_fields = {
    shards   = ["index", "shard", "attempts", "reason", "rows", "api_calls", "updated_at"]
    counters = ["succeeded", "failed", "retrying", "cancelled", "rows", "api_calls", "enqueued", "updated_at"]
    sweeps   = ["index", "attempts", "at"]
    enqueued = ["from", "to", "at"]
    raw      = ["job", "shard", "part", "parts", "pages", "write", "data", "stored_at", "chunked"]
  }
}

resource "google_firestore_field" "backfill_unindexed" {
  for_each = merge([for collection, fields in local.backfill_unindexed_fields : {
    for field in fields : "${collection}.${field}" => { collection = collection, field = field }
  }]...)
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  # Empty: no ascending, descending or array-contains index on the field.
  index_config {}
}
