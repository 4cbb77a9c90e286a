# The dataset, one table per schema file, and the views. The schema files and view queries under
# schemas/ are the copies the Go code embeds (terraform/schemas/schemas.go); the partition and
# clustering columns below are shared/warehouse.TableSpecs' (the tests compare them).

locals {
  # Daily time partitioning column and clustering columns of each table.
  tables = {
    tweets = {
      partition_by = "event_time"
      cluster_by   = ["kind", "tweet_id"]
      description  = "Tweets, retweets, replies and quotes from the X stream and replays."
    }
    stream_events = {
      partition_by = "event_time"
      cluster_by   = ["kind", "tweet_id"]
      description  = "X stream control messages (delete, limit, disconnect...) and v2 stream errors."
    }
    app_events = {
      partition_by = "event_time"
      cluster_by   = ["kind", "user_id"]
      description  = "App events: searches, detail views and other kinds."
    }
    dead_letters = {
      partition_by = "dead_lettered_at"
      cluster_by   = ["stage", "kind"]
      description  = "Messages that can never load, whole, with the reason."
    }
    backfill_rows = {
      partition_by = "fetched_at"
      cluster_by   = ["job_id", "shard"]
      description  = "Rows fetched by backfills, keyed by (job_id, shard, row_index)."
    }
    redrives = {
      partition_by = "redriven_at"
      cluster_by   = ["message_id"]
      description  = "Dead letters published again by scripts/redrive, one row per dead letter message id."
    }
  }

  # Views over tables only, with the tables each reads.
  views = {
    tweets_dedup        = { reads = ["tweets"] }
    stream_events_dedup = { reads = ["stream_events"] }
    app_events_dedup    = { reads = ["app_events"] }
    backfill_rows_dedup = { reads = ["backfill_rows"] }
    # Dashboards (Looker Studio), see the README.
    dead_letters_by_reason = { reads = ["dead_letters"] }
    # scripts/redrive selects from it (README: Redrive).
    dead_letters_pending = { reads = ["dead_letters", "redrives"] }
  }

  # Views that also read other views (created after them), with the views and tables each reads.
  stacked_views = {
    tweets_current      = { reads_views = ["tweets_dedup"], reads = ["stream_events"] }
    backfill_rows_typed = { reads_views = ["backfill_rows_dedup"], reads = [] }
    # Dashboards (Looker Studio), see the README.
    tweets_per_minute     = { reads_views = ["tweets_dedup"], reads = [] }
    top_hashtags_by_hour  = { reads_views = ["tweets_dedup"], reads = ["stream_events"] }
    backfill_rows_per_day = { reads_views = ["backfill_rows_dedup"], reads = [] }
  }
}

resource "google_bigquery_dataset" "events" {
  dataset_id  = var.dataset_id
  location    = var.bigquery_location
  description = "pipelinekit events: tweets, app events, dead letters and backfill rows."

  depends_on = [google_project_service.api]
}

resource "google_bigquery_table" "table" {
  for_each = local.tables

  dataset_id          = google_bigquery_dataset.events.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${path.module}/schemas/${each.key}.json")
  deletion_protection = var.deletion_protection

  time_partitioning {
    type  = "DAY"
    field = each.value.partition_by
  }

  clustering = each.value.cluster_by
}

# BigQuery refuses a view over a table that does not exist yet, so each view takes the dataset
# name from the tables it reads: the reference orders it after them.
resource "google_bigquery_table" "view" {
  for_each = local.views

  dataset_id          = google_bigquery_dataset.events.dataset_id
  table_id            = each.key
  deletion_protection = false # a view holds no data; it is recreated from schemas/views/

  view {
    query = templatefile("${path.module}/schemas/views/${each.key}.sql", {
      project = var.project_id
      dataset = one(distinct([for t in each.value.reads : google_bigquery_table.table[t].dataset_id]))
    })
    use_legacy_sql = false
  }
}

resource "google_bigquery_table" "stacked_view" {
  for_each = local.stacked_views

  dataset_id          = google_bigquery_dataset.events.dataset_id
  table_id            = each.key
  deletion_protection = false

  view {
    query = templatefile("${path.module}/schemas/views/${each.key}.sql", {
      project = var.project_id
      dataset = one(distinct(concat(
        [for v in each.value.reads_views : google_bigquery_table.view[v].dataset_id],
        [for t in each.value.reads : google_bigquery_table.table[t].dataset_id],
      )))
    })
    use_legacy_sql = false
  }
}
