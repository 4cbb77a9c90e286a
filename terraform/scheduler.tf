# Runs StreamTweets on stream_schedule (every minute by default). Each run holds the stream for
# stream_duration; the run that arrives in the last stream_lease_wait of the holder's window waits
# for the lease and connects the moment it is released (a gap of about one reconnect), the others
# answer 200 skipped at once.
#
# Scheduler's attempt deadline is at most 30 minutes for HTTP targets. When it passes, Scheduler
# cancels the request and records DEADLINE_EXCEEDED, while Cloud Run does not stop the instance:
# the function may go on until its own timeout (up to 60 minutes for 2nd gen HTTP functions). So
# a run is sized to end inside the attempt deadline (the precondition below), and the deadline,
# the function's timeout and the run agree: no run is ever cut off, and none is reported failed
# for lasting long.
locals {
  # The longest a run lasts: waiting for the lease, taking it (30 s), the rules sync (30 s), the
  # read window, the publish flush (8 s) and the lease release (10 s).
  stream_run_max_seconds = (tonumber(trimsuffix(var.stream_lease_wait, "s")) + 30 + 30 +
  tonumber(trimsuffix(var.stream_duration, "s")) + 8 + 10)
}

resource "google_cloud_scheduler_job" "stream_tweets" {
  count = var.deploy_functions ? 1 : 0

  name        = local.functions.StreamTweets.name
  description = "Runs StreamTweets, which reads the X filtered stream into the events topic."
  region      = var.region
  schedule    = var.stream_schedule
  time_zone   = var.scheduler_time_zone

  # The most Scheduler allows for HTTP targets, and the function's timeout.
  attempt_deadline = "${min(local.functions.StreamTweets.timeout_seconds, 1800)}s"

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

  lifecycle {
    precondition {
      condition     = local.stream_run_max_seconds <= min(local.functions.StreamTweets.timeout_seconds, 1800)
      error_message = "stream_lease_wait + stream_duration + 78 s must fit in the 1800 s attempt deadline: shorten stream_duration."
    }
  }
}

# Sweeps backfill jobs on backfill_sweep_schedule: POST /backfills:sweep re-enqueues, or after
# backfill_sweep_max_attempts fails with the cause, every task of a quiet planning or running job
# that has no outcome and no task left in the queue, so every job ends even when the request or
# worker driving it died (functions/backfill/sweep.go). Safe to overlap with itself and workers.
resource "google_cloud_scheduler_job" "backfill_sweep" {
  count = var.deploy_functions ? 1 : 0

  name        = "${local.functions.Backfill.name}-sweep"
  description = "Sweeps backfill jobs: re-enqueues or fails tasks lost without an outcome."
  region      = var.region
  schedule    = var.backfill_sweep_schedule
  time_zone   = var.scheduler_time_zone

  attempt_deadline = "${min(local.functions.Backfill.timeout_seconds, 1800)}s"

  # The next scheduled run is the retry.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    # The deterministic run.app URL, as BACKFILL_URL: the audience Backfill's own tasks use.
    uri = "${local.function_urls.Backfill}/backfills:sweep"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.function_urls.Backfill
    }
  }

  depends_on = [google_cloudfunctions2_function.function, google_cloud_run_service_iam_member.invoker]
}
