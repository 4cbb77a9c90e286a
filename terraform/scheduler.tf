# Runs StreamTweets on stream_schedule (every minute by default). Each run holds the stream for
# stream_duration and answers 200 when the lease is held by an overlapping run.
resource "google_cloud_scheduler_job" "stream_tweets" {
  count = var.deploy_functions ? 1 : 0

  name        = local.functions.StreamTweets.name
  description = "Runs StreamTweets, which reads the X filtered stream into the events topic."
  region      = var.region
  schedule    = var.stream_schedule
  time_zone   = var.scheduler_time_zone

  # Longer than the function's timeout, so Scheduler never cancels a run the function would finish.
  attempt_deadline = "${local.functions.StreamTweets.timeout_seconds + 30}s"

  # The next scheduled run is the retry.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.function["StreamTweets"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.function["StreamTweets"].service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}
