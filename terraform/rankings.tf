# Rankings, recent views and the latest tweets (see the README's "Rankings" section).
# UpdateRankings is pushed the events topic through a subscription whose filter passes only the
# kinds the rankings use, and keeps sharded per-bucket counters, per-event markers or the log's
# records (var.rankings_layout), recent views and tweets in Firestore; ServeRankings reads them
# (never BigQuery) and answers JSON. Both are entries of local.functions (functions.tf merges
# local.ranking_functions in), so the one google_cloudfunctions2_function resource, the service
# accounts and function_urls cover them.

locals {
  # UpdateRankings' concurrent deliveries per instance, by rankings layout (var.rankings_layout).
  # The markers layout commits up to 100 events at a time (shared/rankings Options.MaxBatch)
  # and keeps the 250 it always had. The log layout groups up to 1,000 deliveries
  # into one commit, waiting up to 1 s for them (MaxBatch 1,000, Linger 1 s): an instance must
  # hold 1,000 deliveries at once to fill a group, and 1,000 is Cloud Run's most ("you can
  # increase this to a maximum of 1,000", https://cloud.google.com/run/docs/about-concurrency).
  # The push subscription's ack deadline (the function's timeout, 60 s) covers the linger.
  update_rankings_concurrency = {
    markers = 250
    log     = 1000
  }

  ranking_functions = {
    UpdateRankings = {
      name            = "update-rankings"
      description     = "Keeps the rankings, recent views and latest tweets current in Firestore from the events topic."
      service_account = "fn-update-rankings"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      # Concurrent deliveries are what the store batches into one commit: more per instance,
      # fewer commits per bucket document. By layout: see update_rankings_concurrency.
      concurrency   = local.update_rankings_concurrency[var.rankings_layout]
      max_instances = 20
      ingress       = "ALLOW_INTERNAL_ONLY"
    }
    ServeRankings = {
      name            = "serve-rankings"
      description     = "Serves the rankings, a user's recent views and the latest tweets per term as cacheable JSON (read-only)."
      service_account = "fn-serve-rankings"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 30
      concurrency     = 250
      max_instances   = 10
      ingress         = "ALLOW_ALL"
    }
  }

  ranking_function_env = {
    UpdateRankings = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      RANKINGS_DATABASE    = google_firestore_database.rankings.name
      RANKINGS_SHARDS      = tostring(var.rankings_shards)
      RANKINGS_LAYOUT      = var.rankings_layout
    }
    ServeRankings = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      RANKINGS_DATABASE    = google_firestore_database.rankings.name
      RANKINGS_CACHE_TTL   = var.rankings_cache_ttl
      # ServeRankings reads the latest tweets from the layout UpdateRankings writes.
      RANKINGS_LAYOUT = var.rankings_layout
      # The key recent-views tokens are checked with (functions/serverankings/views_auth.go).
      RECENT_VIEWS_KEY_SECRET = local.secret_version.recent_views_key
      # The deck (shared/deck) served at "/": its first column, window and poll interval, and
      # the Backfill function its backfills panel reads (with an ID token: see below).
      DECK_DEFAULT_KEYWORD = var.deck_default_keyword
      DECK_WINDOW          = var.deck_window
      DECK_POLL_INTERVAL   = var.deck_poll_interval
      BACKFILL_URL         = local.function_urls.Backfill
      # The deck's own searches and views (docs/collect.md): collect.js from CollectEvents with
      # the deck's write key, only when browser collection is on and a key is given.
      DECK_COLLECT_URL = var.browser_collection && var.deck_collect_key != "" ? local.function_urls.CollectEvents : ""
      DECK_COLLECT_KEY = var.browser_collection ? var.deck_collect_key : ""
      # The deck's sign-in (deck.tf, docs/sign-in.md).
      DECK_AUTH             = local.deck_sign_in_env.DECK_AUTH
      DECK_DATABASE         = local.deck_sign_in_env.DECK_DATABASE
      DECK_BACKFILL_ADMINS  = local.deck_sign_in_env.DECK_BACKFILL_ADMINS
      DECK_FIREBASE_API_KEY = local.deck_sign_in_env.DECK_FIREBASE_API_KEY
    }
  }

  # The kinds UpdateRankings needs (functions/updaterankings.Filter; a test compares them).
  rankings_filter = "attributes.kind = \"tweet\" OR attributes.kind = \"retweet\" OR attributes.kind = \"reply\" OR attributes.kind = \"quote\" OR attributes.kind = \"delete\" OR attributes.kind = \"search\" OR attributes.kind = \"detail_view\""

  # The store's collections (shared/rankings.DefaultCollections; a test compares them).
  ranking_collections = {
    counts = "rankings_counts"
    tweets = "rankings_tweets"
    events = "rankings_events"
    views  = "rankings_views"
    # A tweet's card counts (shared/rankings/cards.go): retweets, replies and quotes.
    tweet_counts = "rankings_tweet_counts"
    # The log layout (shared/rankings/log.go): its records, its ledgers of duplicates, and the
    # document recording when it started (rankings_meta/log, kept: no TTL).
    log  = "rankings_log"
    dups = "rankings_dups"
    # The log layout's key pages (shared/rankings/keypages.go): where each key's applications are.
    keys = "rankings_keys"
    meta = "rankings_meta"
  }

  # UpdateRankings writes; ServeRankings only reads. Both only the rankings database: the
  # grants' condition below.
  ranking_firestore_roles = {
    UpdateRankings = "roles/datastore.user"
    ServeRankings  = "roles/datastore.viewer"
  }

  ranking_invokers = merge(
    { "UpdateRankings/pubsub-push" = { function = "UpdateRankings", member = google_service_account.pubsub_push.member } },
    # The deck's backfills panel: ServeRankings reads the Backfill function's job status; a
    # column's history (shared/deck/history.go) posts x_search jobs. One role for both:
    # roles/run.invoker is run.routes.invoke, any request to the service whatever its method
    # (https://cloud.google.com/run/docs/reference/iam/roles).
    { "Backfill/serve-rankings" = { function = "Backfill", member = google_service_account.function["ServeRankings"].member } },
    { for m in var.rankings_invokers : "ServeRankings/${m}" => { function = "ServeRankings", member = m } },
  )
}

# --- Subscription ------------------------------------------------------------------------------

resource "google_pubsub_subscription" "rankings" {
  count = var.deploy_functions ? 1 : 0

  name   = var.rankings_subscription
  topic  = google_pubsub_topic.events.id
  filter = local.rankings_filter

  ack_deadline_seconds       = local.functions.UpdateRankings.timeout_seconds
  message_retention_duration = var.message_retention_duration

  expiration_policy {
    ttl = ""
  }

  push_config {
    # As the loader's (pubsub.tf): the path names the topic for the Functions Framework.
    push_endpoint = "${local.function_urls.UpdateRankings}/projects/${var.project_id}/topics/${google_pubsub_topic.events.name}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = local.function_urls.UpdateRankings
    }
  }

  retry_policy {
    minimum_backoff = var.loader_min_backoff
    maximum_backoff = var.loader_max_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.loader_max_delivery_attempts
  }

  depends_on = [
    google_service_account_iam_member.pubsub_token_creator,
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_service_iam_member.rankings_invoker,
  ]
}

resource "google_pubsub_subscription_iam_member" "rankings_subscriber" {
  count = var.deploy_functions ? 1 : 0

  subscription = google_pubsub_subscription.rankings[0].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# --- Permissions -------------------------------------------------------------------------------

# Project level, as Firestore has no IAM below the project, but conditioned on the rankings
# database: Firestore evaluates a condition's resource.name as the database a request reaches
# (firestore.googleapis.com is among the services whose resource attributes conditions test,
# https://cloud.google.com/iam/docs/conditions-resource-attributes), never a collection. So
# ServeRankings reads the rankings and nothing of (default): backfill jobs, raw responses, the
# stream lease, CollectEvents' seen ids. shared/emulators/iamcheck evaluates the same condition.
resource "google_project_iam_member" "rankings_firestore" {
  for_each = local.ranking_firestore_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.function[each.key].member

  condition {
    title       = "rankings-database-only"
    description = "Only the rankings' Firestore database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.rankings.name}\""
  }
}

resource "google_cloud_run_service_iam_member" "rankings_invoker" {
  for_each = var.deploy_functions ? local.ranking_invokers : {}

  project  = google_cloudfunctions2_function.function[each.value.function].project
  location = google_cloudfunctions2_function.function[each.value.function].location
  service  = google_cloudfunctions2_function.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# --- Firestore indexes and TTLs ----------------------------------------------------------------

# A window's bucket documents: ranking and size equal, bucket in a range.
resource "google_firestore_index" "rankings_counts" {
  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = local.ranking_collections.counts

  fields {
    field_path = "ranking"
    order      = "ASCENDING"
  }
  fields {
    field_path = "size"
    order      = "ASCENDING"
  }
  fields {
    field_path = "bucket"
    order      = "ASCENDING"
  }
}

# A user's recent views: latest first, ties by item id.
resource "google_firestore_index" "rankings_views" {
  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = local.ranking_collections.views

  fields {
    field_path = "user_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "viewed_us"
    order      = "DESCENDING"
  }
  fields {
    field_path = "item_id"
    order      = "ASCENDING"
  }
}

# The latest tweets for a term, newest first, without deleted ones.
resource "google_firestore_index" "rankings_tweets_by_term" {
  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = local.ranking_collections.tweets

  fields {
    field_path   = "terms"
    array_config = "CONTAINS"
  }
  fields {
    field_path = "deleted"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_us"
    order      = "DESCENDING"
  }
  fields {
    field_path = "id_key"
    order      = "DESCENDING"
  }
}

# The retweet with the lowest id of an original never seen itself (its quoted text and author).
resource "google_firestore_index" "rankings_tweets_by_original" {
  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = local.ranking_collections.tweets

  fields {
    field_path = "referenced_tweet_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "kind"
    order      = "ASCENDING"
  }
  fields {
    field_path = "deleted"
    order      = "ASCENDING"
  }
  fields {
    field_path = "id_key"
    order      = "ASCENDING"
  }
}

# Firestore deletes markers, views, tweets, counters, log records and ledgers after their
# expires_at; the field's own indexes are dropped (nothing queries it, and a rising timestamp
# index limits write rates). rankings_meta/log has no expires_at: it is kept.
resource "google_firestore_field" "rankings_expires_at" {
  for_each = { for k, c in local.ranking_collections : k => c if k != "meta" }

  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = each.value
  field      = "expires_at"

  index_config {}

  ttl_config {}
}

# A bucket's count map holds one field per key (and its label map one per key too long to be its
# own field name): indexing them would spend Firestore's index entries per document and slow
# every write, and nothing queries them.
resource "google_firestore_field" "rankings_count_maps" {
  for_each = toset(["c", "k"])

  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = local.ranking_collections.counts
  field      = each.key

  index_config {}
}

# A marker's body (a tweet's content, where it counted, which message) is one bytes field that
# only the store reads back by document id: nothing queries it, so it spends no index entries.
# The fields beside it in rankings_tweets (terms, deleted, created_us, id_key, kind,
# referenced_tweet_id) are what the latest tweets and the retweets' quoted text filter and
# order on, and keep their indexes.
resource "google_firestore_field" "rankings_marker_bodies" {
  for_each = { tweets = local.ranking_collections.tweets, events = local.ranking_collections.events }

  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = each.value
  field      = "body"

  index_config {}
}

# A group's events in the log layout, all but their indexed arrays: the log's query of the latest
# tweets for a term, newest minute first, a page after the last record read (StartAfter a
# document, so Firestore orders ties by __name__ in the same direction, which it appends to the
# index itself as the existing indexes rely on).
resource "google_firestore_index" "rankings_log_by_term" {
  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = local.ranking_collections.log

  fields {
    field_path   = "terms"
    array_config = "CONTAINS"
  }
  fields {
    field_path = "minute_us"
    order      = "DESCENDING"
  }
}

# What the log layout never queries by itself: a record's and a ledger's body (one bytes field
# read back with its document), and a record's minute, which only the index above orders on (a
# composite index is kept whatever the field's single-field indexes) and which rises with time,
# so its single-field indexes would cap the collection at 500 writes a second
# (https://cloud.google.com/firestore/docs/solutions/shard-timestamp). The arrays (keys, dels,
# terms, refs) keep their automatic indexes: Firestore gives an array field only an
# array-contains index, which is what their queries use
# (https://firebase.google.com/docs/firestore/query-data/index-overview: "For each array field
# in a document, Cloud Firestore creates and maintains a collection-scope array-contains index").
resource "google_firestore_field" "rankings_log_unindexed" {
  for_each = {
    "log/body"      = { collection = local.ranking_collections.log, field = "body" }
    "log/minute_us" = { collection = local.ranking_collections.log, field = "minute_us" }
    # The lowest-id retweet of each original a record's retweets retweet, read by field path.
    "log/q"     = { collection = local.ranking_collections.log, field = "q" }
    "dups/body" = { collection = local.ranking_collections.dups, field = "body" }
    # A key page's map of applications, read by document id only.
    "keys/a" = { collection = local.ranking_collections.keys, field = "a" }
  }

  project    = var.project_id
  database   = google_firestore_database.rankings.name
  collection = each.value.collection
  field      = each.value.field

  index_config {}
}
