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
