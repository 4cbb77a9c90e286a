# The events topic, its dead-letter topic, and the loader's push subscription. LoadEvents is
# delivered through this subscription rather than an Eventarc trigger because only a subscription
# we own can carry a dead-letter policy and a retry policy. The Functions Framework turns the
# push request body into the CloudEvent the function takes.

resource "google_pubsub_topic" "events" {
  name = var.events_topic

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "dead_letter" {
  name = var.dead_letter_topic

  depends_on = [google_project_service.api]
}

# Job notices: the Backfill function publishes one message here when a backfill job ends
# (shared/jobnotice; the README's "Job notices" says its schema). Users add their own
# subscriptions to chain work after a backfill.
resource "google_pubsub_topic" "backfill_job_events" {
  name = var.backfill_job_events_topic

  depends_on = [google_project_service.api]
}

# Holds what could never be delivered, for inspection and replay (scripts/dev replays from it).
resource "google_pubsub_subscription" "dead_letter" {
  name                       = var.dead_letter_subscription
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.message_retention_duration

  # Never expire for inactivity: dead letters are rare and the subscription must outlast quiet months.
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "loader" {
  count = var.deploy_functions ? 1 : 0

  name  = var.loader_subscription
  topic = google_pubsub_topic.events.id

  # For push, the ack deadline is the request timeout: as long as the function may take.
  ack_deadline_seconds       = local.functions.LoadEvents.timeout_seconds
  message_retention_duration = var.message_retention_duration

  expiration_policy {
    ttl = ""
  }

  push_config {
    # The path names the topic, which LoadEvents (as the Functions Framework) reads from it; the
    # function is served at every path. The deterministic run.app URL (functions.tf) is known
    # at plan time; Cloud Run accepts tokens whose audience is that URL.
    push_endpoint = "${local.function_urls.LoadEvents}/projects/${var.project_id}/topics/${google_pubsub_topic.events.name}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = local.function_urls.LoadEvents
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

  # Without these the first pushes fail (no function, no token for the push account) and
  # dead-lettering is refused; nothing above refers to them.
  depends_on = [
    google_cloudfunctions2_function.function,
    google_service_account_iam_member.pubsub_token_creator,
    google_pubsub_topic_iam_member.dead_letter_publisher,
    google_cloud_run_service_iam_member.invoker,
  ]
}
