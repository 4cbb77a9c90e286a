# The Cloud Tasks queues of backfill tasks: Backfill enqueues one HTTP task per shard, signed as
# tasks-invoker, task i in queue i mod backfill_queues, and each queue dispatches them to
# RunBackfillTask within these limits. One queue dispatches at most 500 tasks/s
# (max_dispatches_per_second, https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RateLimits),
# so a job runs at backfill_queues x queue_max_dispatches_per_second at best. Queue 0 keeps the
# name backfill_queue (a queue deployed before this count moves to [0] below, not replaced:
# a deleted queue's name stays taken for about 7 days); queue n > 0 is "<backfill_queue>-<n>".
resource "google_cloud_tasks_queue" "backfill" {
  count    = var.backfill_queues
  name     = count.index == 0 ? var.backfill_queue : "${var.backfill_queue}-${count.index}"
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
    # second on a document, so the counters must be at least as many as the job's dispatch rate,
    # every queue's together.
    precondition {
      condition     = var.backfill_counter_shards >= var.backfill_queues * var.queue_max_dispatches_per_second
      error_message = "backfill_counter_shards must be at least backfill_queues x queue_max_dispatches_per_second."
    }
    # RunBackfillTask must hold what the queues send: at a dispatch rate r a task of latency L
    # keeps r x L tasks in flight (Little's law), so unless max_instances x concurrency covers
    # every queue's rate times backfill_task_seconds, the worker answers 429 and Cloud Tasks
    # slows the queues down (https://cloud.google.com/tasks/docs/common-pitfalls#backoff_errors_and_enforced_rates),
    # and the queues' rate is never reached.
    precondition {
      condition     = local.functions.RunBackfillTask.max_instances * local.functions.RunBackfillTask.concurrency >= var.backfill_queues * var.queue_max_dispatches_per_second * var.backfill_task_seconds
      error_message = "RunBackfillTask's max_instances x concurrency (${local.functions.RunBackfillTask.max_instances * local.functions.RunBackfillTask.concurrency}) must be at least backfill_queues x queue_max_dispatches_per_second x backfill_task_seconds (${var.backfill_queues * var.queue_max_dispatches_per_second * var.backfill_task_seconds}): raise its max_instances in locals.functions, or lower the rate."
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

# The queue of the configuration before backfill_queues is queue 0.
moved {
  from = google_cloud_tasks_queue.backfill
  to   = google_cloud_tasks_queue.backfill[0]
}

# The queue of the Backfill function's own control tasks: the links of a big job's fan-out
# chains and the steps of a :retry walk, which Cloud Tasks delivers back to Backfill
# (/backfills/{id}:expand). Apart from the worker queues, a link never waits behind the worker
# tasks created before it, so the fan-out runs ahead of the worker queues' dispatch; and a link
# is never dropped: max_attempts -1 is unlimited and max_retry_duration 0s sets no age limit, so
# Cloud Tasks retries until the task succeeds or reaches its retention limit
# (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RetryConfig).
# A link's work is idempotent (names derive from job and range), so retrying it is always safe.
resource "google_cloud_tasks_queue" "backfill_control" {
  name     = var.backfill_control_queue
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.backfill_control_max_dispatches_per_second
    max_concurrent_dispatches = var.backfill_control_max_concurrent_dispatches
  }

  # Backoff from 1 s to 60 s: a link that failed (a Firestore or Cloud Tasks error, a 429 from
  # an instance at its concurrency) is tried again within a minute, every minute at most.
  retry_config {
    max_attempts       = -1
    max_retry_duration = "0s"
    min_backoff        = "1s"
    max_backoff        = "60s"
    max_doublings      = 5
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  lifecycle {
    # Every chain (2 per worker queue, functions/backfill/fanout.go chainsPerQueue) must be able
    # to have its link in flight, or chains wait for each other.
    precondition {
      condition     = var.backfill_control_max_concurrent_dispatches >= 2 * var.backfill_queues
      error_message = "backfill_control_max_concurrent_dispatches must be at least 2 x backfill_queues (two fan-out chains per queue)."
    }
    # The worker queues are backfill_queue and backfill_queue-<n>: the control queue must not be
    # one of them (its tasks would again wait behind worker tasks).
    precondition {
      condition     = !can(regex("^${var.backfill_queue}(-[0-9]+)?$", var.backfill_control_queue))
      error_message = "backfill_control_queue must not be named like a worker queue (backfill_queue or backfill_queue-<n>)."
    }
  }

  depends_on = [google_project_service.api]
}
