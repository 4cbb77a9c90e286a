# Identities and permissions. Each function runs as its own service account holding only what its
# code does, bound on the resource itself wherever the API allows it. Callers (Scheduler,
# Pub/Sub push, Cloud Tasks) each sign their requests as a dedicated account that may invoke one
# function. No binding grants public access or a primitive role (the tests check), except
# CollectEvents' invoker when browser collection is on (collect_events_public).

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Which functions write each table (roles/bigquery.dataEditor on that table alone): the loader
  # writes the event tables and the dead letters, backfill workers their rows.
  table_writers = {
    tweets        = ["LoadEvents"]
    stream_events = ["LoadEvents"]
    app_events    = ["LoadEvents"]
    dead_letters  = ["LoadEvents"]
    backfill_rows = ["RunBackfillTask"]
    # No function writes it: people running scripts/redrive do, with their own roles (README: Redrive).
    redrives = []
  }
  table_grants = merge([
    for table, writers in local.table_writers : { for ep in writers : "${table}/${ep}" => { table = table, function = ep } }
  ]...)

  # Who reads each secret.
  secret_readers = {
    x_bearer_token        = "StreamTweets"
    youtube_client_id     = "RunBackfillTask"
    youtube_client_secret = "RunBackfillTask"
    youtube_refresh_token = "RunBackfillTask"
    recent_views_key      = "ServeRankings"
  }

  # Who may call each function (roles/run.invoker on its Cloud Run service).
  invokers = merge(
    { "StreamTweets/scheduler" = { function = "StreamTweets", member = google_service_account.scheduler.member } },
    # The scheduled sweep of backfill jobs (scheduler.tf).
    { "Backfill/scheduler" = { function = "Backfill", member = google_service_account.scheduler.member } },
    { "LoadEvents/pubsub-push" = { function = "LoadEvents", member = google_service_account.pubsub_push.member } },
    { "RunBackfillTask/tasks" = { function = "RunBackfillTask", member = google_service_account.tasks_invoker.member } },
    # Backfill fans large jobs out through expansion tasks sent to itself (BACKFILL_URL).
    { "Backfill/tasks" = { function = "Backfill", member = google_service_account.tasks_invoker.member } },
    { for m in var.collect_events_invokers : "CollectEvents/${m}" => { function = "CollectEvents", member = m } },
    { for m in var.backfill_invokers : "Backfill/${m}" => { function = "Backfill", member = m } },
  )

  # Functions that keep state in Firestore: the stream lease, the seen-id dedup, backfill jobs.
  firestore_users = toset(["StreamTweets", "CollectEvents", "Backfill", "RunBackfillTask"])
}

# --- Service accounts --------------------------------------------------------------------------

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = each.value.service_account
  display_name = "${each.key} function"
  description  = "Runtime identity of the ${each.key} Cloud Function."

  # Creating a service account needs the IAM API enabled.
  depends_on = [google_project_service.api]
}

resource "google_service_account" "build" {
  account_id   = "functions-build"
  display_name = "Functions build"
  description  = "Builds the functions' images in Cloud Build (instead of the Compute Engine default account)."

  # Creating a service account needs the IAM API enabled.
  depends_on = [google_project_service.api]
}

resource "google_service_account" "scheduler" {
  account_id   = "scheduler-invoker"
  display_name = "Scheduler invoker"
  description  = "Signs Cloud Scheduler's OIDC tokens for StreamTweets and the backfill sweep."

  # Creating a service account needs the IAM API enabled.
  depends_on = [google_project_service.api]
}

resource "google_service_account" "pubsub_push" {
  account_id   = "pubsub-push"
  display_name = "Pub/Sub push"
  description  = "Signs the OIDC tokens of the push subscriptions to LoadEvents and UpdateRankings."

  # Creating a service account needs the IAM API enabled.
  depends_on = [google_project_service.api]
}

resource "google_service_account" "tasks_invoker" {
  account_id   = "tasks-invoker"
  display_name = "Cloud Tasks invoker"
  description  = "Signs the OIDC tokens of backfill tasks sent to RunBackfillTask and Backfill."

  # Creating a service account needs the IAM API enabled.
  depends_on = [google_project_service.api]
}

# --- Build -------------------------------------------------------------------------------------

# Project level because Cloud Build's permissions exist only there: the builder role lets the
# build read the source object, write the image to Artifact Registry and write its logs.
resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = google_service_account.build.member
}

# --- Function permissions ----------------------------------------------------------------------

# RunBackfillTask publishes the tweets an x_search backfill finds, as StreamTweets publishes its
# own (docs/sources.md): the publisher role holds pubsub.topics.publish
# (https://cloud.google.com/pubsub/docs/access-control).
resource "google_pubsub_topic_iam_member" "events_publisher" {
  for_each = toset(["StreamTweets", "CollectEvents", "RunBackfillTask"])

  topic  = google_pubsub_topic.events.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.key].member
}

# Backfill publishes a job's end notice on the job events topic, that topic alone: the publisher
# role holds pubsub.topics.publish (https://cloud.google.com/pubsub/docs/access-control).
resource "google_pubsub_topic_iam_member" "job_events_publisher" {
  topic  = google_pubsub_topic.backfill_job_events.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function["Backfill"].member
}

resource "google_bigquery_table_iam_member" "writer" {
  for_each = local.table_grants

  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.table[each.value.table].table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.function[each.value.function].member
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.secret_readers

  secret_id = google_secret_manager_secret.secret[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value].member
}

# Project level because Firestore has no per-collection IAM: datastore.user is the narrowest role
# that reads and writes documents.
resource "google_project_iam_member" "firestore_user" {
  for_each = local.firestore_users

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

resource "google_cloud_tasks_queue_iam_member" "backfill_enqueuer" {
  count    = var.backfill_queues
  project  = google_cloud_tasks_queue.backfill[count.index].project
  location = google_cloud_tasks_queue.backfill[count.index].location
  name     = google_cloud_tasks_queue.backfill[count.index].name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function["Backfill"].member
}

# Backfill creates its control tasks (fan-out links, :retry walk steps) in the control queue; it
# never reads them back (the sweep looks only for worker tasks), so enqueuer is all it needs.
resource "google_cloud_tasks_queue_iam_member" "backfill_control_enqueuer" {
  project  = google_cloud_tasks_queue.backfill_control.project
  location = google_cloud_tasks_queue.backfill_control.location
  name     = google_cloud_tasks_queue.backfill_control.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function["Backfill"].member
}

# The sweep asks the queue whether a job's unfinished task is still there (GetTask), which needs
# cloudtasks.tasks.get; the enqueuer role holds only tasks.create and tasks.fullView
# (https://cloud.google.com/iam/docs/roles-permissions/cloudtasks, read 2026-12-06). Viewer on
# this one queue is the narrowest predefined role with it; a custom role would be narrower by
# tasks.list and queues.get, but a deleted custom role's ID stays taken for weeks, which breaks
# destroy-then-apply.
resource "google_cloud_tasks_queue_iam_member" "backfill_sweeper" {
  count    = var.backfill_queues
  project  = google_cloud_tasks_queue.backfill[count.index].project
  location = google_cloud_tasks_queue.backfill[count.index].location
  name     = google_cloud_tasks_queue.backfill[count.index].name
  role     = "roles/cloudtasks.viewer"
  member   = google_service_account.function["Backfill"].member
}

# Backfill creates tasks whose OIDC token is signed as tasks-invoker: Cloud Tasks requires the
# caller to be allowed to act as that account.
resource "google_service_account_iam_member" "backfill_acts_as_tasks_invoker" {
  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function["Backfill"].member
}

# --- Invokers ----------------------------------------------------------------------------------

# A 2nd gen function is served by the Cloud Run service of the same name; run.invoker on that
# service is what lets a caller in.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = var.deploy_functions ? local.invokers : {}

  project  = google_cloudfunctions2_function.function[each.value.function].project
  location = google_cloudfunctions2_function.function[each.value.function].location
  service  = google_cloudfunctions2_function.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# Browser collection: web pages call CollectEvents with no Google identity, so its service lets
# everyone invoke it: Cloud Run's invoker role for the public member type
# (https://cloud.google.com/run/docs/authenticating/public). Then CollectEvents refuses every
# request without a write key (REQUIRE_WRITE_KEY = var.browser_collection). The only public
# binding of the configuration: off by default, and only on CollectEvents (the tests check).
resource "google_cloud_run_service_iam_member" "collect_events_public" {
  count = var.deploy_functions && var.browser_collection ? 1 : 0

  project  = google_cloudfunctions2_function.function["CollectEvents"].project
  location = google_cloudfunctions2_function.function["CollectEvents"].location
  service  = google_cloudfunctions2_function.function["CollectEvents"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- Pub/Sub service agent ---------------------------------------------------------------------

# Pub/Sub moves a message to the dead-letter topic as its service agent, which must be allowed
# to publish there and to acknowledge it on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "loader_subscriber" {
  count = var.deploy_functions ? 1 : 0

  subscription = google_pubsub_subscription.loader[0].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The service agent mints the push requests' OIDC tokens as pubsub-push.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  # The agent exists once the Pub/Sub API is enabled and has served the project: after the topic
  # is created (the dead-letter grants refer to topics and subscriptions already).
  depends_on = [google_pubsub_topic.events]
}

# x_search backfills read X's bearer token, StreamTweets' secret, that secret alone: the
# accessor role holds secretmanager.versions.access (https://cloud.google.com/secret-manager/docs/access-control).
resource "google_secret_manager_secret_iam_member" "x_search_token_reader" {
  secret_id = google_secret_manager_secret.secret["x_bearer_token"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function["RunBackfillTask"].member
}

# The app backends that mint recent-views tokens read the key's secret, that secret alone.
resource "google_secret_manager_secret_iam_member" "recent_views_minter" {
  for_each = toset(var.recent_views_token_minters)

  secret_id = google_secret_manager_secret.secret["recent_views_key"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

# Secrets that http_json backfill specs name by resource: the worker reads each listed secret, on
# that secret alone (no project-wide grant), so a spec can only name a secret listed here.
resource "google_secret_manager_secret_iam_member" "spec_secret_reader" {
  for_each = toset(var.backfill_spec_secret_ids)

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function["RunBackfillTask"].member
}

moved {
  from = google_cloud_tasks_queue_iam_member.backfill_enqueuer
  to   = google_cloud_tasks_queue_iam_member.backfill_enqueuer[0]
}

moved {
  from = google_cloud_tasks_queue_iam_member.backfill_sweeper
  to   = google_cloud_tasks_queue_iam_member.backfill_sweeper[0]
}
