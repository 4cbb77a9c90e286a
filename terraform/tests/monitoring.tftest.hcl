# Plans of monitoring.tf with the real Google provider, offline (as plan.tftest.hcl): every
# log-based metric, alert policy and the dashboard, with their filters, thresholds from the
# variables, notification channels and documentation. terraform/monitoring_test.go checks that
# each filter's message is one the Go code logs.

provider "google" {
  project      = "pk-test-project"
  region       = "us-central1"
  access_token = "offline-test-token" # plan only: nothing calls Google
}

override_data {
  target = data.google_project.this
  values = { number = "123456789012" }
}

variables {
  project_id = "pk-test-project"
}

run "monitoring_defaults" {
  command = plan

  # The log-based metrics: one per signal, counters but the two distributions, each filtering
  # one function's lines by their exact message.
  assert {
    condition     = toset(keys(google_logging_metric.log)) == toset(["dead_letters", "messages_loaded", "pipeline_latency", "stream_runs", "stream_read_seconds", "backfill_jobs_ended", "backfill_jobs_stalled", "backfill_tasks", "rankings_commit_failures", "bigquery_write_errors", "requests_refused"])
    error_message = "Every signal of issue 28 has its log-based metric."
  }
  assert {
    condition     = google_logging_metric.log["dead_letters"].filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"load-events\" AND jsonPayload.message=\"message dead-lettered\"" && google_logging_metric.log["dead_letters"].label_extractors == tomap({ stage = "EXTRACT(jsonPayload.stage)", kind = "EXTRACT(jsonPayload.kind)", field = "EXTRACT(jsonPayload.field)" })
    error_message = "Dead letters are LoadEvents' \"message dead-lettered\" lines, labelled by stage, kind and field."
  }
  assert {
    condition     = alltrue([for k, m in google_logging_metric.log : m.metric_descriptor[0].metric_kind == "DELTA" && m.metric_descriptor[0].value_type == (contains(["pipeline_latency", "stream_read_seconds"], k) ? "DISTRIBUTION" : "INT64")])
    error_message = "Every log-based metric is a DELTA counter, but the latency and read-window distributions."
  }
  assert {
    condition     = google_logging_metric.log["pipeline_latency"].value_extractor == "EXTRACT(jsonPayload.publish_to_durable_s)" && google_logging_metric.log["pipeline_latency"].bucket_options[0].exponential_buckets[0].scale == 0.05 && google_logging_metric.log["stream_read_seconds"].value_extractor == "EXTRACT(jsonPayload.summary.read_s)"
    error_message = "The distributions extract the loader's publish-to-durable seconds and a run's read seconds."
  }
  assert {
    condition     = alltrue([for k, m in google_logging_metric.log : toset([for l in m.metric_descriptor[0].labels : l.key]) == toset(m.label_extractors == null ? [] : keys(m.label_extractors)) && startswith(m.name, "pipelinekit/")])
    error_message = "Every label of a metric's descriptor has its extractor, and the other way round."
  }
  assert {
    condition     = strcontains(google_logging_metric.log["stream_runs"].filter, "resource.labels.service_name=\"stream-tweets\"") && google_logging_metric.log["stream_runs"].label_extractors.outcome == "EXTRACT(jsonPayload.outcome)" && google_logging_metric.log["stream_runs"].label_extractors.cause == "EXTRACT(jsonPayload.cause)"
    error_message = "Stream runs are StreamTweets' lines, labelled by outcome and cause."
  }
  assert {
    condition     = strcontains(google_logging_metric.log["backfill_jobs_stalled"].filter, "jsonPayload.forced=false") && strcontains(google_logging_metric.log["backfill_jobs_ended"].filter, "jsonPayload.message=\"backfill job ended\"")
    error_message = "Stalled jobs are scheduled sweeps only; ended jobs are the sweep's \"backfill job ended\" lines."
  }
  assert {
    condition     = strcontains(google_logging_metric.log["requests_refused"].filter, "log_id(\"run.googleapis.com/requests\")") && strcontains(google_logging_metric.log["requests_refused"].filter, "httpRequest.status=(401 OR 403 OR 413 OR 429)") && strcontains(google_logging_metric.log["requests_refused"].filter, "\"collect-events\"")
    error_message = "Refused requests are Cloud Run's request log lines of the functions with 401, 403, 413 or 429."
  }

  # Every alert: notifies the (empty) channel list, says what to do, and its thresholds are the variables'.
  assert {
    condition     = alltrue([for p in concat([google_monitoring_alert_policy.dead_letters, google_monitoring_alert_policy.backfill_failed, google_monitoring_alert_policy.backfill_stalled, google_monitoring_alert_policy.task_backlog, google_monitoring_alert_policy.control_queue, google_monitoring_alert_policy.function_5xx, google_monitoring_alert_policy.write_errors], values(google_monitoring_alert_policy.oldest_unacked), google_monitoring_alert_policy.stream_not_read) : length(p.notification_channels) == 0 && length(p.documentation[0].content) > 200 && strcontains(p.documentation[0].content, "docs/operations.md")])
    error_message = "Every alert notifies notification_channels and carries documentation that says what to do."
  }
  assert {
    condition     = google_monitoring_alert_policy.dead_letters.conditions[0].condition_threshold[0].threshold_value == 10 && google_monitoring_alert_policy.dead_letters.conditions[0].condition_threshold[0].aggregations[0].alignment_period == "300s" && strcontains(google_monitoring_alert_policy.dead_letters.conditions[0].condition_threshold[0].filter, "metric.type=\"logging.googleapis.com/user/pipelinekit/dead_letters\"")
    error_message = "Dead letters alert above 10 in 5 minutes, from the dead_letters metric."
  }
  assert {
    condition     = { for k, p in google_monitoring_alert_policy.oldest_unacked : k => p.conditions[0].condition_threshold[0].filter } == { loader = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"events-loader\"", rankings = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"events-rankings\"" } && alltrue([for p in google_monitoring_alert_policy.oldest_unacked : p.conditions[0].condition_threshold[0].threshold_value == 600])
    error_message = "The loader's and the rankings' subscriptions alert when their oldest unacked message is over 600 s."
  }
  assert {
    condition     = length(google_monitoring_alert_policy.stream_not_read) == 1 && google_monitoring_alert_policy.stream_not_read[0].conditions[0].condition_absent[0].duration == "300s" && strcontains(google_monitoring_alert_policy.stream_not_read[0].conditions[0].condition_absent[0].filter, "metric.label.outcome=one_of(\"read\", \"skipped\")") && strcontains(google_monitoring_alert_policy.stream_not_read[0].conditions[1].condition_threshold[0].filter, "metric.label.outcome=\"not_read\"")
    error_message = "The stream alerts after 5 minutes with no run reading or skipped, or on a run that did not read."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.backfill_failed.conditions[0].condition_threshold[0].filter, "metric.label.state=\"done_with_failures\"") && strcontains(google_monitoring_alert_policy.backfill_failed.conditions[1].condition_threshold[0].filter, "metric.label.outcome=\"blocked\"") && strcontains(google_monitoring_alert_policy.backfill_stalled.conditions[0].condition_threshold[0].filter, "pipelinekit/backfill_jobs_stalled")
    error_message = "A backfill job ending with failures or blocked, and a stalled one, alert."
  }
  assert {
    condition     = google_monitoring_alert_policy.task_backlog.conditions[0].condition_threshold[0].threshold_value == 900000 && strcontains(google_monitoring_alert_policy.task_backlog.conditions[0].condition_threshold[0].filter, "resource.label.queue_id=monitoring.regex.full_match(\"backfill(-[0-9]+)?\")")
    error_message = "The backfill queue alerts when its p99 attempt delay passes 900 s (in ms)."
  }
  # The control queue retries without limit, so a link failing for ever is seen only here: its
  # own alert counts its non-2xx attempts (response_code other than "ok") in windows no shorter
  # than its longest backoff, so a task failing again and again fails in every window, and
  # watches its attempt delay at the backlog's threshold (ms).
  assert {
    condition     = google_monitoring_alert_policy.control_queue.conditions[0].condition_threshold[0].filter == "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_count\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=\"backfill-control\" AND metric.label.response_code!=\"ok\"" && google_monitoring_alert_policy.control_queue.conditions[0].condition_threshold[0].threshold_value == 0 && google_monitoring_alert_policy.control_queue.conditions[0].condition_threshold[0].duration == "900s"
    error_message = "The control queue alerts when its tasks' attempts are answered non-2xx for 15 minutes."
  }
  assert {
    condition     = tonumber(trimsuffix(google_monitoring_alert_policy.control_queue.conditions[0].condition_threshold[0].aggregations[0].alignment_period, "s")) >= tonumber(trimsuffix(google_cloud_tasks_queue.backfill_control.retry_config[0].max_backoff, "s"))
    error_message = "The failing-attempts window is at least the control queue's max_backoff, so a task failing for ever fails in every window."
  }
  assert {
    condition     = google_monitoring_alert_policy.control_queue.conditions[1].condition_threshold[0].filter == "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND resource.type=\"cloud_tasks_queue\" AND resource.label.queue_id=\"backfill-control\"" && google_monitoring_alert_policy.control_queue.conditions[1].condition_threshold[0].threshold_value == 900000
    error_message = "The control queue alerts when its p99 attempt delay passes alert_task_delay_seconds (900 s, in ms)."
  }
  # The backlog alert's regex covers the worker queues, not the control queue: without its own
  # alert, the control queue would be watched by nothing.
  assert {
    condition = (can(regex("^(?:${regex("full_match\\(\"([^\"]+)\"\\)", google_monitoring_alert_policy.task_backlog.conditions[0].condition_threshold[0].filter)[0]})$", "backfill-1")) &&
    !can(regex("^(?:${regex("full_match\\(\"([^\"]+)\"\\)", google_monitoring_alert_policy.task_backlog.conditions[0].condition_threshold[0].filter)[0]})$", google_cloud_tasks_queue.backfill_control.name)))
    error_message = "The backlog alert's queue match takes backfill-1 and leaves backfill-control to its own alert."
  }
  assert {
    condition     = anytrue(flatten([for t in jsondecode(google_monitoring_dashboard.pipeline.dashboard_json).mosaicLayout.tiles : [for d in t.widget.xyChart.dataSets : startswith(t.widget.title, "Backfill tasks") && strcontains(d.timeSeriesQuery.timeSeriesFilter.filter, "queue/depth") && strcontains(d.timeSeriesQuery.timeSeriesFilter.filter, "resource.label.queue_id=\"backfill-control\"")]]))
    error_message = "The backfill chart shows the control queue's depth."
  }
  assert {
    condition     = google_monitoring_alert_policy.function_5xx.conditions[0].condition_threshold[0].threshold_value == 0.05 && strcontains(google_monitoring_alert_policy.function_5xx.conditions[0].condition_threshold[0].filter, "metric.label.response_code_class=\"5xx\"") && !strcontains(google_monitoring_alert_policy.function_5xx.conditions[0].condition_threshold[0].denominator_filter, "5xx") && google_monitoring_alert_policy.function_5xx.conditions[0].condition_threshold[0].aggregations[0].group_by_fields == tolist(["resource.label.service_name"])
    error_message = "The 5xx alert is a ratio of 5xx to all requests per function, above 5%."
  }
  assert {
    condition     = length(google_monitoring_alert_policy.write_errors.conditions) == 3 && strcontains(google_monitoring_alert_policy.write_errors.conditions[0].condition_threshold[0].filter, "firestore.googleapis.com/api/request_count") && alltrue([for c in google_monitoring_alert_policy.write_errors.conditions : c.condition_threshold[0].threshold_value == 5])
    error_message = "Firestore commits, BigQuery appends and rankings commits failing more than 5 times in 5 minutes alert."
  }

  # The dashboard: one page of the golden signals, each chart on the metrics above.
  assert {
    condition     = length(jsondecode(google_monitoring_dashboard.pipeline.dashboard_json).mosaicLayout.tiles) == 12 && alltrue([for t in jsondecode(google_monitoring_dashboard.pipeline.dashboard_json).mosaicLayout.tiles : t.xPos + t.width <= 12 && length(t.widget.xyChart.dataSets) > 0])
    error_message = "The dashboard has its 12 charts within a 12-column grid."
  }
  assert {
    condition = alltrue([for want in ["Events in", "Loaded", "Dead-lettered", "Publish to durable row", "Ranking lag", "Backfill tasks", "Errors per function"] :
    anytrue([for t in jsondecode(google_monitoring_dashboard.pipeline.dashboard_json).mosaicLayout.tiles : startswith(t.widget.title, want)])])
    error_message = "The dashboard shows events in, loaded, dead-lettered, latency, ranking lag, jobs and errors per function."
  }
}

run "monitoring_channels_and_thresholds" {
  command = plan

  variables {
    notification_channels         = ["projects/pk-test-project/notificationChannels/123", "projects/pk-test-project/notificationChannels/456"]
    alert_dead_letters_per_5m     = 0
    alert_oldest_unacked_seconds  = 120
    alert_stream_not_read_minutes = 0
    alert_task_delay_seconds      = 60
    alert_5xx_ratio               = 0.5
    alert_write_errors_per_5m     = 50
  }

  assert {
    condition     = alltrue([for p in concat([google_monitoring_alert_policy.dead_letters, google_monitoring_alert_policy.backfill_failed, google_monitoring_alert_policy.backfill_stalled, google_monitoring_alert_policy.task_backlog, google_monitoring_alert_policy.control_queue, google_monitoring_alert_policy.function_5xx, google_monitoring_alert_policy.write_errors], values(google_monitoring_alert_policy.oldest_unacked)) : toset(p.notification_channels) == toset(["projects/pk-test-project/notificationChannels/123", "projects/pk-test-project/notificationChannels/456"])])
    error_message = "Every alert notifies every listed channel."
  }
  assert {
    condition     = length(google_monitoring_alert_policy.stream_not_read) == 0
    error_message = "alert_stream_not_read_minutes = 0 leaves the stream alert out."
  }
  assert {
    condition     = google_monitoring_alert_policy.dead_letters.conditions[0].condition_threshold[0].threshold_value == 0 && alltrue([for p in google_monitoring_alert_policy.oldest_unacked : p.conditions[0].condition_threshold[0].threshold_value == 120]) && google_monitoring_alert_policy.task_backlog.conditions[0].condition_threshold[0].threshold_value == 60000 && google_monitoring_alert_policy.control_queue.conditions[1].condition_threshold[0].threshold_value == 60000 && google_monitoring_alert_policy.function_5xx.conditions[0].condition_threshold[0].threshold_value == 0.5 && alltrue([for c in google_monitoring_alert_policy.write_errors.conditions : c.condition_threshold[0].threshold_value == 50])
    error_message = "Every threshold is its variable's."
  }
}

# Every Cloud Tasks queue of the module, worker queues and the control queue, is named by the
# filter of an alert on its task attempts: by its id, or by a regex it fully matches.
run "monitoring_every_queue_watched" {
  command = plan

  variables {
    backfill_queues                 = 3
    queue_max_dispatches_per_second = 25
  }

  assert {
    condition = alltrue([for q in concat(google_cloud_tasks_queue.backfill, [google_cloud_tasks_queue.backfill_control]) :
      anytrue([for f in flatten([for p in [google_monitoring_alert_policy.task_backlog, google_monitoring_alert_policy.control_queue] : [for c in p.conditions : [for t in c.condition_threshold : t.filter]]]) :
        strcontains(f, "cloudtasks.googleapis.com/queue/task_attempt") && (strcontains(f, "resource.label.queue_id=\"${q.name}\"") || can(regex("^(?:${regex("queue_id=monitoring\\.regex\\.full_match\\(\"([^\"]+)\"\\)", f)[0]})$", q.name)))
    ])])
    error_message = "Every queue (backfill, backfill-1, backfill-2, backfill-control) is watched by an alert on its task attempts."
  }
}
