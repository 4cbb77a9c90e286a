# The Cloud Tasks queue of backfill tasks: Backfill enqueues one HTTP task per shard, signed as
# tasks-invoker, and the queue dispatches them to RunBackfillTask within these limits.
resource "google_cloud_tasks_queue" "backfill" {
  name     = var.backfill_queue
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.queue_max_dispatches_per_second
    max_concurrent_dispatches = var.queue_max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = var.queue_max_attempts
    max_retry_duration = var.queue_max_retry_duration
    min_backoff        = var.queue_min_backoff
    max_backoff        = var.queue_max_backoff
    max_doublings      = var.queue_max_doublings
  }

  # Log every attempt: a backfill's failures are investigated per task.
  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  lifecycle {
    # Every task that runs writes one counter document; Firestore takes about one write per
    # second on a document, so the counters must be at least as many as the dispatch rate.
    precondition {
      condition     = var.backfill_counter_shards >= var.queue_max_dispatches_per_second
      error_message = "backfill_counter_shards must be at least queue_max_dispatches_per_second."
    }
    # A task's work stops WORK_TIMEOUT into the request, leaving at least 30 s to record its
    # outcome before Cloud Tasks stops waiting (the dispatch deadline), which in turn must not
    # outlast the worker function's own timeout.
    precondition {
      condition = (tonumber(trimsuffix(var.backfill_work_timeout, "s")) + 30 <= tonumber(trimsuffix(var.backfill_dispatch_deadline, "s")) &&
      tonumber(trimsuffix(var.backfill_dispatch_deadline, "s")) <= local.functions.RunBackfillTask.timeout_seconds)
      error_message = "backfill_work_timeout + 30s must be at most backfill_dispatch_deadline, itself at most RunBackfillTask's timeout."
    }
  }

  depends_on = [google_project_service.api]
}
