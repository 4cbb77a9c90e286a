# Operations: log-based metrics from the functions' structured logs (shared/logging: JSON lines
# whose keys land in jsonPayload, https://cloud.google.com/logging/docs/structured-logging), the
# alert policies built on them and on Google's own metrics, and one dashboard of the pipeline's
# golden signals. The README's "Operations" section says what each alert means and what to do.
#
# Sources of every name used here:
# - Log filters: the Logging query language, https://cloud.google.com/logging/docs/view/logging-query-language.
#   2nd gen functions log as Cloud Run services: resource.type "cloud_run_revision", labelled
#   service_name (the function's name), and Cloud Run's own request log is
#   run.googleapis.com%2Frequests with httpRequest.status (https://cloud.google.com/run/docs/logging).
# - Label and value extractors, EXTRACT(field) and REGEXP_EXTRACT(field, regex), and the metric
#   types they yield, logging.googleapis.com/user/NAME (https://cloud.google.com/logging/docs/logs-based-metrics/labels,
#   https://cloud.google.com/logging/docs/logs-based-metrics/distribution-metrics).
# - Google's metrics, resource types and labels: https://cloud.google.com/monitoring/api/metrics_gcp_p_z
#   (pubsub: subscription/oldest_unacked_message_age on pubsub_subscription by subscription_id,
#   topic/send_message_operation_count on pubsub_topic by topic_id; run: request_count on
#   cloud_run_revision by service_name, with response_code_class), https://cloud.google.com/monitoring/api/metrics_gcp_c
#   (cloudtasks: queue/depth, queue/task_attempt_delays, in ms, and queue/task_attempt_count, a
#   DELTA count by response_code, on cloud_tasks_queue by queue_id),
#   https://cloud.google.com/monitoring/api/metrics_gcp_d_h and
#   https://cloud.google.com/firestore/docs/understand-performance-monitoring (firestore:
#   api/request_count on firestore.googleapis.com/Database, by api_method and response_code),
#   https://cloud.google.com/monitoring/api/metrics_gcp_i_o (logging: log_entry_count by severity).
# - Monitoring filters (one_of, monitoring.regex.full_match): https://cloud.google.com/monitoring/api/v3/filters;
#   conditions (threshold, ratio with a denominator, metric absence up to 24.5 h):
#   https://cloud.google.com/monitoring/alerts/types-of-conditions.

locals {
  # Each function's Cloud Run service, as its logs and metrics name it.
  service = { for ep, f in local.functions : ep => f.name }

  # A function's own log lines with one message: the filters name the exact message strings
  # the Go code logs (terraform/monitoring_test.go greps the code for each).
  fn_log = { for ep, name in local.service : ep => "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${name}\"" }

  # The log-based metrics, by short name (metric logging.googleapis.com/user/pipelinekit/NAME).
  # labels: label => extractor; value: the value extractor of a distribution (unit seconds).
  log_metrics = {
    dead_letters = {
      description = "Messages LoadEvents dead-lettered (stored in the dead_letters table), by stage, kind and the field at fault."
      filter      = "${local.fn_log.LoadEvents} AND jsonPayload.message=\"message dead-lettered\""
      labels = {
        stage = "EXTRACT(jsonPayload.stage)"
        kind  = "EXTRACT(jsonPayload.kind)"
        field = "EXTRACT(jsonPayload.field)"
      }
    }
    messages_loaded = {
      description = "Messages LoadEvents wrote to their table (durable), by table and kind."
      filter      = "${local.fn_log.LoadEvents} AND jsonPayload.message=\"message loaded\""
      labels = {
        table = "EXTRACT(jsonPayload.table)"
        kind  = "EXTRACT(jsonPayload.kind)"
      }
    }
    pipeline_latency = {
      description = "Seconds from a message's publish to its durable row, per loaded message."
      filter      = "${local.fn_log.LoadEvents} AND jsonPayload.message=\"message loaded\""
      labels      = { table = "EXTRACT(jsonPayload.table)" }
      value       = "EXTRACT(jsonPayload.publish_to_durable_s)"
    }
    stream_runs = {
      description = "StreamTweets runs by outcome (read, skipped, not_read), how they ended (finished, skipped, failed) and, when not read, why (cause)."
      filter      = "${local.fn_log.StreamTweets} AND jsonPayload.message=(\"stream run finished\" OR \"stream run skipped\" OR \"stream run failed\")"
      labels = {
        outcome = "EXTRACT(jsonPayload.outcome)"
        cause   = "EXTRACT(jsonPayload.cause)"
        ended   = "REGEXP_EXTRACT(jsonPayload.message, \"^stream run (finished|skipped|failed)$\")"
      }
    }
    stream_read_seconds = {
      description = "Seconds each StreamTweets run that held the stream kept its read window open."
      filter      = "${local.fn_log.StreamTweets} AND jsonPayload.message=(\"stream run finished\" OR \"stream run failed\")"
      labels      = { outcome = "EXTRACT(jsonPayload.outcome)" }
      value       = "EXTRACT(jsonPayload.summary.read_s)"
    }
    backfill_jobs_ended = {
      description = "Backfill jobs whose end a sweep stored, by state (done, done_with_failures, cancelled_swept)."
      filter      = "${local.fn_log.Backfill} AND jsonPayload.message=\"backfill job ended\""
      labels      = { state = "EXTRACT(jsonPayload.state)" }
    }
    backfill_jobs_stalled = {
      description = "Scheduled sweeps of a planning or running backfill job that recorded no outcome for SWEEP_AFTER (backfill_sweep_after)."
      filter      = "${local.fn_log.Backfill} AND jsonPayload.message=\"swept backfill job\" AND jsonPayload.forced=false AND jsonPayload.state=(\"planning\" OR \"running\")"
      labels      = { state = "EXTRACT(jsonPayload.state)" }
    }
    backfill_tasks = {
      description = "Backfill task outcomes RunBackfillTask recorded (succeeded, retrying, failed, cancelled, blocked, ...)."
      filter      = "${local.fn_log.RunBackfillTask} AND jsonPayload.message=~\"^backfill task \" AND jsonPayload.outcome:*"
      labels      = { outcome = "EXTRACT(jsonPayload.outcome)" }
    }
    rankings_commit_failures = {
      description = "UpdateRankings commits that failed: retried at once (retrying), given up and redelivered by Pub/Sub (redelivered), or an event refused for Firestore's limits and dropped (acknowledged without it)."
      filter      = "${local.fn_log.UpdateRankings} AND jsonPayload.message=(\"rankings commit failed; retrying\" OR \"UpdateRankings failed; the message is redelivered\" OR \"a ranking event can never be stored within Firestore's limits; acknowledged without it\")"
      labels      = { outcome = "REGEXP_EXTRACT(jsonPayload.message, \"(retrying|redelivered|acknowledged without it)$\")" }
    }
    bigquery_write_errors = {
      description = "LoadEvents deliveries whose BigQuery append (or dead-letter append) failed for a reason that may pass: Pub/Sub redelivers them."
      filter      = "${local.fn_log.LoadEvents} AND jsonPayload.message=\"LoadEvents failed; the message is redelivered\""
      labels      = {}
    }
    requests_refused = {
      description = "Requests to the functions answered 401 or 403 (auth), 429 (rate: no instance free, or a rate limit) or 413 (size), from Cloud Run's request log, by function and status."
      filter      = "resource.type=\"cloud_run_revision\" AND log_id(\"run.googleapis.com/requests\") AND resource.labels.service_name=(${join(" OR ", [for n in values(local.service) : "\"${n}\""])}) AND httpRequest.status=(401 OR 403 OR 413 OR 429)"
      labels = {
        service = "EXTRACT(resource.labels.service_name)"
        status  = "EXTRACT(httpRequest.status)"
      }
    }
  }

  # metric.type of each log-based metric, for the alerts and the dashboard.
  log_metric_type = { for k, m in google_logging_metric.log : k => "logging.googleapis.com/user/${m.name}" }

  # Monitoring filters of the functions' Cloud Run services.
  run_services = "resource.type=\"cloud_run_revision\" AND resource.label.service_name=one_of(${join(", ", [for n in values(local.service) : "\"${n}\""])})"

  # The subscriptions whose backlog age is watched, by the name the alert uses.
  watched_subscriptions = {
    loader   = { id = var.loader_subscription, function = "LoadEvents", what = "loading events into BigQuery" }
    rankings = { id = var.rankings_subscription, function = "UpdateRankings", what = "keeping the rankings current" }
  }

  # Every alert's documentation ends with where to look.
  runbook = "See docs/operations.md (Alerts) for each alert's meaning and what to do."
}

# --- Log-based metrics ---------------------------------------------------------------------------

resource "google_logging_metric" "log" {
  for_each = local.log_metrics

  project     = var.project_id
  name        = "pipelinekit/${each.key}"
  description = each.value.description
  filter      = each.value.filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = try(each.value.value, null) == null ? "INT64" : "DISTRIBUTION"
    unit         = try(each.value.value, null) == null ? "1" : "s"
    display_name = "pipelinekit ${replace(each.key, "_", " ")}"

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }

  label_extractors = each.value.labels
  value_extractor  = try(each.value.value, null)

  # Distributions: exponential buckets from 50 ms, doubling, up to about 29 hours.
  dynamic "bucket_options" {
    for_each = try(each.value.value, null) == null ? [] : [1]
    content {
      exponential_buckets {
        num_finite_buckets = 21
        growth_factor      = 2
        scale              = 0.05
      }
    }
  }

  depends_on = [google_project_service.api]
}

# --- Alert policies ------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "pipelinekit: dead letters"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "More than ${var.alert_dead_letters_per_5m} dead letters in 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.dead_letters}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_dead_letters_per_5m
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "LoadEvents dead-lettered more than ${var.alert_dead_letters_per_5m} messages in 5 minutes: they are in the `dead_letters` table, not in their tables. Chart `pipelinekit/dead_letters` by stage, kind and field to see which; read a few rows' `reason`. Decode stage: a producer sends what the event contract refuses (fix the producer, or the contract). Append stage: BigQuery refused the row (a schema change not deployed?). Once fixed, the rows can be sent again from `dead_letters`. ${local.runbook}"
  }
}

resource "google_monitoring_alert_policy" "oldest_unacked" {
  for_each = local.watched_subscriptions

  project               = var.project_id
  display_name          = "pipelinekit: ${each.key} subscription falling behind"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Oldest unacked message of ${each.value.id} older than ${var.alert_oldest_unacked_seconds}s for 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${each.value.id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_oldest_unacked_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The ${each.value.id} subscription has a message unacknowledged for more than ${var.alert_oldest_unacked_seconds}s: ${each.value.function} is behind on ${each.value.what}. Look at ${each.value.function}'s 5xx rate and its ERROR logs (a transient BigQuery or Firestore failure is retried with backoff), its instance count against max_instances, and whether its push endpoint answers at all. Messages are kept for message_retention_duration; past max delivery attempts they go to the dead-letter topic. ${local.runbook}"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "stream_not_read" {
  count = var.alert_stream_not_read_minutes > 0 ? 1 : 0

  project               = var.project_id
  display_name          = "pipelinekit: X stream not read"
  combiner              = "OR"
  notification_channels = var.notification_channels

  # Every scheduled run either reads or finds another run reading (skipped): none of either for
  # the window means nothing is reading (Scheduler stopped, StreamTweets failing to start).
  conditions {
    display_name = "No StreamTweets run read or skipped for ${var.alert_stream_not_read_minutes} minutes"
    condition_absent {
      filter   = "metric.type=\"${local.log_metric_type.stream_runs}\" AND resource.type=\"cloud_run_revision\" AND metric.label.outcome=one_of(\"read\", \"skipped\")"
      duration = "${var.alert_stream_not_read_minutes * 60}s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  # A run that held the stream and never connected (X refused, kept busy, lease lost).
  conditions {
    display_name = "A StreamTweets run ended without reading"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.stream_runs}\" AND resource.type=\"cloud_run_revision\" AND metric.label.outcome=\"not_read\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "${var.alert_stream_not_read_minutes * 60}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.cause"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The X filtered stream is not being read: no StreamTweets run read it or found another run reading it for ${var.alert_stream_not_read_minutes} minutes, or a run ended without connecting (the `cause` label says why: too_many_connections, no_connection, lease_lost, x_refused, failed, window_closed). Read the last `stream run read nothing` and `stream run failed` lines of stream-tweets. x_refused with 401: rotate the x-bearer-token secret; too_many_connections: another client of the same app holds the stream; no log lines at all: check the Scheduler job stream-tweets. Set alert_stream_not_read_minutes = 0 where the stream is not used. ${local.runbook}"
  }
}

resource "google_monitoring_alert_policy" "backfill_failed" {
  project               = var.project_id
  display_name          = "pipelinekit: backfill job failed"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "A backfill job ended done_with_failures"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.backfill_jobs_ended}\" AND resource.type=\"cloud_run_revision\" AND metric.label.state=\"done_with_failures\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "A backfill job was blocked"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.backfill_tasks}\" AND resource.type=\"cloud_run_revision\" AND metric.label.outcome=\"blocked\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A backfill job ended with failed tasks, or was blocked (its source refused it as a whole: a grant revoked, a quota exhausted). `GET /backfills/JOB_ID` on the Backfill function lists the failures grouped by cause. Fix the cause (credentials, the spec's URL, the source's quota), then `POST /backfills/JOB_ID:retry` runs the failed tasks again (nothing succeeded runs twice). ${local.runbook}"
  }
}

resource "google_monitoring_alert_policy" "backfill_stalled" {
  project               = var.project_id
  display_name          = "pipelinekit: backfill job stalled"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "A running backfill job recorded nothing for backfill_sweep_after (${var.backfill_sweep_after})"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.backfill_jobs_stalled}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A planning or running backfill job recorded no task outcome for ${var.backfill_sweep_after} (backfill_sweep_after), and the scheduled sweep looked at it: `swept backfill job` lines of the backfill function name it (job_id) and say what the sweep found (live: tasks still queued; reenqueued: tasks lost and sent again; failed: tasks given up after backfill_sweep_max_attempts). Live tasks that do not run: is a ${var.backfill_queue} queue paused, or its delay alert firing? Reenqueued again and again: RunBackfillTask dies before it records (its memory, its timeout: see its logs). ${local.runbook}"
  }
}

resource "google_monitoring_alert_policy" "task_backlog" {
  project               = var.project_id
  display_name          = "pipelinekit: backfill queue backlog"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "99th percentile task attempt delay of a ${var.backfill_queue} queue above ${var.alert_task_delay_seconds}s"
    condition_threshold {
      filter          = "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=${local.backfill_queue_match}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_task_delay_seconds * 1000 # the metric is in milliseconds
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_99"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Tasks of a ${var.backfill_queue} queue (backfill_queues of them: ${var.backfill_queue}, ${var.backfill_queue}-1, ...) are dispatched more than ${var.alert_task_delay_seconds}s after their scheduled time: the backlog is older than the queue drains. Expected during a large backfill at the queue's rate (queue_max_dispatches_per_second); otherwise check that the queue is running (`gcloud tasks queues describe ${var.backfill_queue}`), that RunBackfillTask answers (429 and 503 make Cloud Tasks slow the queue down), and its max_instances. ${local.runbook}"
  }

  depends_on = [google_project_service.api]
}

# The control queue (tasks.tf) retries its tasks without limit and never drops one, so a fan-out
# link or :retry step that keeps failing is a failure nowhere else: the job's later ranges are
# simply never enqueued. The backlog alert's match (backfill_queue_match) leaves this queue out.
# task_attempt_count is a DELTA count of attempts labelled by response_code, "ok" for a 2xx
# (https://cloud.google.com/monitoring/api/metrics_gcp_c; the values as Google's Cloud Tasks
# dashboard filters them, "ok" and "unavailable":
# https://github.com/GoogleCloudPlatform/monitoring-dashboard-samples/blob/master/dashboards/google-cloud-tasks/cloud-tasks.json);
# != compares a label (https://cloud.google.com/monitoring/api/v3/filters#comparisons).
resource "google_monitoring_alert_policy" "control_queue" {
  project               = var.project_id
  display_name          = "pipelinekit: backfill control tasks failing"
  combiner              = "OR"
  notification_channels = var.notification_channels

  # Failed attempts in every 5-minute window for 15 minutes: the queue's backoff is at most
  # max_backoff (60 s), so a task that keeps failing is tried several times in each window and
  # the series has no gap; a passing error (one Firestore error, a 429 from a busy instance)
  # heals within a few attempts and breaks the 15 minutes.
  conditions {
    display_name = "Attempts of ${google_cloud_tasks_queue.backfill_control.name} tasks answered non-2xx in every 5 minutes for 15 minutes"
    condition_threshold {
      filter          = "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_count\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=\"${google_cloud_tasks_queue.backfill_control.name}\" AND metric.label.response_code!=\"ok\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "900s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  # Control tasks dispatched late: the queue is throttled (429 and 503 slow it down) or holds
  # more links than its rate; the same threshold as the worker queues' backlog.
  conditions {
    display_name = "99th percentile task attempt delay of ${google_cloud_tasks_queue.backfill_control.name} above ${var.alert_task_delay_seconds}s"
    condition_threshold {
      filter          = "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=\"${google_cloud_tasks_queue.backfill_control.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_task_delay_seconds * 1000 # the metric is in milliseconds
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_99"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Tasks of the ${google_cloud_tasks_queue.backfill_control.name} queue (the backfill function's fan-out chain links and :retry walk steps, delivered to POST /backfills/JOB_ID:expand) keep failing, or are dispatched more than ${var.alert_task_delay_seconds}s late. Cloud Tasks retries them without limit and never drops one, so nothing fails: the job's remaining tasks are just never enqueued. `gcloud tasks list --queue=${google_cloud_tasks_queue.backfill_control.name} --location=${var.region}` lists the tasks with their dispatch count and last response; the backfill function's ERROR lines `expanding backfill range`, `expanding a backfill retry`, `backfill job store failed` and `planning a stored backfill job` name the job (job_id) and the error. 503: Firestore or Cloud Tasks failing (see the write errors alert), retried until it passes. 401 or 403: the tasks-invoker service account lost roles/run.invoker on the backfill function (iam.tf; `terraform apply` restores it). 500 `planning a stored backfill job`: the deployed code no longer plans the stored spec. 404 (the job is gone) or 400 (a range outside the job) never gets better: delete the task (`gcloud tasks delete TASK --queue=${google_cloud_tasks_queue.backfill_control.name} --location=${var.region}`); the job's sweep, or posting the same spec again, enqueues what it would have. Late only: the backfill function answers 429 at its instances' limit, or the queue is paused (`gcloud tasks queues describe ${google_cloud_tasks_queue.backfill_control.name} --location=${var.region}`). ${local.runbook}"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "function_5xx" {
  project               = var.project_id
  display_name          = "pipelinekit: function 5xx rate"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "More than ${var.alert_5xx_ratio * 100}% of a function's requests answered 5xx over 5 minutes"
    condition_threshold {
      filter             = "metric.type=\"run.googleapis.com/request_count\" AND ${local.run_services} AND metric.label.response_code_class=\"5xx\""
      denominator_filter = "metric.type=\"run.googleapis.com/request_count\" AND ${local.run_services}"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_5xx_ratio
      duration           = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A function answers 5xx to more than ${var.alert_5xx_ratio * 100}% of its requests (the incident names the service). Pub/Sub and Cloud Tasks retry 5xx, so the work is delayed, not lost, until retries run out; apps calling CollectEvents see 503 for events to send again. Read the function's ERROR lines: a missing secret or setting (`cannot start`), a Firestore or BigQuery outage (the write errors alert), or instances out of memory (Cloud Run's `Memory limit exceeded`). ${local.runbook}"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "write_errors" {
  project               = var.project_id
  display_name          = "pipelinekit: Firestore or BigQuery write errors"
  combiner              = "OR"
  notification_channels = var.notification_channels

  # Commit (and BatchWrite) answers other than OK and the preconditions the stores use on purpose
  # (ABORTED, FAILED_PRECONDITION, ALREADY_EXISTS are their lease, marker and sweep races).
  conditions {
    display_name = "Firestore commits failing: more than ${var.alert_write_errors_per_5m} in 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"firestore.googleapis.com/api/request_count\" AND resource.type=\"firestore.googleapis.com/Database\" AND metric.label.api_method=monitoring.regex.full_match(\".*(Commit|BatchWrite)\") AND metric.label.response_code=one_of(\"UNAVAILABLE\", \"DEADLINE_EXCEEDED\", \"INTERNAL\", \"RESOURCE_EXHAUSTED\", \"PERMISSION_DENIED\", \"UNKNOWN\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_write_errors_per_5m
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.database_id", "metric.label.response_code"]
      }
    }
  }

  conditions {
    display_name = "LoadEvents' BigQuery appends failing: more than ${var.alert_write_errors_per_5m} in 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.bigquery_write_errors}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_write_errors_per_5m
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "UpdateRankings' commits failing: more than ${var.alert_write_errors_per_5m} in 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_type.rankings_commit_failures}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_write_errors_per_5m
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.outcome"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Writes to Firestore or BigQuery fail: the condition names which. They are retried (Pub/Sub redelivers, the rankings store retries a commit up to 30 times), so a short burst heals itself; a lasting one backs up the subscriptions. Check https://status.cloud.google.com, the service's quotas in the console, and the failing lines' `error` (PERMISSION_DENIED: a role removed from the function's service account; RESOURCE_EXHAUSTED: a quota or a hot document). `acknowledged without it` in UpdateRankings is an event dropped for Firestore's limits, logged with its key. ${local.runbook}"
  }
}

# --- Dashboard -----------------------------------------------------------------------------------

locals {
  # One chart: a title and its series, each a filter and how it is aligned and reduced
  # (https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards#XyChart).
  dashboard_charts = [
    { title = "Events in (published to ${var.events_topic}, per second)", series = [
      { filter = "metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type=\"pubsub_topic\" AND resource.label.topic_id=\"${var.events_topic}\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = [] },
    ] },
    { title = "Loaded (rows per second, by table)", series = [
      { filter = "metric.type=\"${local.log_metric_type.messages_loaded}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.table"] },
    ] },
    { title = "Dead-lettered (per second, by stage and kind)", series = [
      { filter = "metric.type=\"${local.log_metric_type.dead_letters}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.stage", "metric.label.kind"] },
    ] },
    { title = "Publish to durable row (seconds, p50 and p99)", series = [
      { filter = "metric.type=\"${local.log_metric_type.pipeline_latency}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_50", group_by = [] },
      { filter = "metric.type=\"${local.log_metric_type.pipeline_latency}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_99", group_by = [] },
    ] },
    { title = "Ranking lag and loader lag (oldest unacked message, seconds)", series = [
      for s in local.watched_subscriptions : { filter = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${s.id}\"", aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group_by = ["resource.label.subscription_id"] }
    ] },
    { title = "Stream runs (by outcome)", series = [
      { filter = "metric.type=\"${local.log_metric_type.stream_runs}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = ["metric.label.outcome", "metric.label.cause"] },
    ] },
    { title = "Backfill tasks (outcomes per second), worker and control tasks queued", series = [
      { filter = "metric.type=\"${local.log_metric_type.backfill_tasks}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.outcome"] },
      { filter = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=${local.backfill_queue_match}", aligner = "ALIGN_MAX", reducer = "REDUCE_SUM", group_by = [] },
      # The control queue on its own line: a few links in flight, or links retried without end.
      { filter = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=\"${google_cloud_tasks_queue.backfill_control.name}\"", aligner = "ALIGN_MAX", reducer = "REDUCE_SUM", group_by = ["resource.label.queue_id"] },
    ] },
    { title = "Backfill jobs ended (by state) and stalled", series = [
      { filter = "metric.type=\"${local.log_metric_type.backfill_jobs_ended}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = ["metric.label.state"] },
      { filter = "metric.type=\"${local.log_metric_type.backfill_jobs_stalled}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = [] },
    ] },
    { title = "Errors per function (5xx per second, ERROR log lines per second)", series = [
      { filter = "metric.type=\"run.googleapis.com/request_count\" AND ${local.run_services} AND metric.label.response_code_class=\"5xx\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name"] },
      { filter = "metric.type=\"logging.googleapis.com/log_entry_count\" AND ${local.run_services} AND metric.label.severity=\"ERROR\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["resource.label.service_name"] },
    ] },
    { title = "Requests refused (per second, by function and status: 401/403 auth, 413 size, 429 rate)", series = [
      { filter = "metric.type=\"${local.log_metric_type.requests_refused}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", group_by = ["metric.label.service", "metric.label.status"] },
    ] },
    { title = "Write errors (Firestore commits, BigQuery appends, rankings commits)", series = [
      { filter = "metric.type=\"${local.log_metric_type.bigquery_write_errors}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = [] },
      { filter = "metric.type=\"${local.log_metric_type.rankings_commit_failures}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = ["metric.label.outcome"] },
    ] },
    { title = "Stream read window (seconds per run)", series = [
      { filter = "metric.type=\"${local.log_metric_type.stream_read_seconds}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_50", group_by = [] },
    ] },
  ]
}

resource "google_monitoring_dashboard" "pipeline" {
  project = var.project_id
  # Two charts a row on a 12-column grid, in the order above: what came in, what was loaded or
  # dead-lettered, how late, then the stream, backfills and errors.
  dashboard_json = jsonencode({
    displayName = "pipelinekit: golden signals"
    mosaicLayout = {
      columns = 12
      tiles = [for i, c in local.dashboard_charts : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = c.title
          xyChart = {
            dataSets = [for s in c.series : {
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = s.filter
                  aggregation = merge({
                    alignmentPeriod    = "60s"
                    perSeriesAligner   = s.aligner
                    crossSeriesReducer = s.reducer
                  }, length(s.group_by) > 0 ? { groupByFields = s.group_by } : {})
                }
              }
            }]
          }
        }
      }]
    }
  })
}

locals {
  # Every backfill queue (tasks.tf): backfill_queue and backfill_queue-<n>, matched by the
  # Monitoring filter's regex function (https://cloud.google.com/monitoring/api/v3/filters).
  backfill_queue_match = "monitoring.regex.full_match(\"${var.backfill_queue}(-[0-9]+)?\")"
}
