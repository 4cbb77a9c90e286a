output "function_urls" {
  description = "run.app URL of each function, by entry point (call CollectEvents and Backfill with an ID token for it)."
  value       = { for ep, f in google_cloudfunctions2_function.function : ep => f.service_config[0].uri }
}

output "function_service_accounts" {
  description = "Runtime service account email of each function, by entry point."
  value       = { for ep, sa in google_service_account.function : ep => sa.email }
}

output "invoker_service_accounts" {
  description = "Service accounts that sign the calls of Cloud Scheduler, the loader's push subscription and Cloud Tasks."
  value = {
    scheduler   = google_service_account.scheduler.email
    pubsub_push = google_service_account.pubsub_push.email
    tasks       = google_service_account.tasks_invoker.email
  }
}

output "events_topic" {
  description = "Full name of the events topic."
  value       = google_pubsub_topic.events.id
}

output "dead_letter_topic" {
  description = "Full name of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.id
}

output "backfill_job_events_topic" {
  description = "Full name of the topic a notice is published on when a backfill job ends."
  value       = google_pubsub_topic.backfill_job_events.id
}

output "dead_letter_subscription" {
  description = "Full name of the pull subscription on the dead-letter topic, for inspection."
  value       = google_pubsub_subscription.dead_letter.id
}

output "loader_subscription" {
  description = "Full name of the push subscription that delivers events to LoadEvents (null when scripts/deploy.sh deploys the functions)."
  value       = one(google_pubsub_subscription.loader[*].id)
}

output "backfill_queue" {
  description = "Full name of the first backfill Cloud Tasks queue (backfill_queues lists them all)."
  value       = google_cloud_tasks_queue.backfill[0].id
}

output "backfill_queues" {
  description = "Full names of the backfill Cloud Tasks queues, task i of a job in queue i mod their count."
  value       = google_cloud_tasks_queue.backfill[*].id
}

output "dataset" {
  description = "BigQuery dataset of the tables and views, as project:dataset."
  value       = "${google_bigquery_dataset.events.project}:${google_bigquery_dataset.events.dataset_id}"
}

output "secrets" {
  description = "Secret Manager secrets whose values must be added with `gcloud secrets versions add`."
  value       = { for k, s in google_secret_manager_secret.secret : k => s.secret_id }
}

output "source_bucket" {
  description = "Bucket holding the functions' source archives (null when scripts/deploy.sh deploys the functions)."
  value       = one(google_storage_bucket.source[*].name)
}

output "rankings_subscription" {
  description = "Full name of the filtered push subscription that delivers ranking events to UpdateRankings (null when scripts/deploy.sh deploys the functions)."
  value       = one(google_pubsub_subscription.rankings[*].id)
}

output "log_metrics" {
  description = "metric.type of each log-based metric (monitoring.tf), by short name, for charts and alerts of your own."
  value       = local.log_metric_type
}

output "alert_policies" {
  description = "Resource names of the alert policies (monitoring.tf), by alert."
  value = merge(
    { for k, p in google_monitoring_alert_policy.oldest_unacked : "${k}_subscription_falling_behind" => p.name },
    { for p in google_monitoring_alert_policy.stream_not_read : "stream_not_read" => p.name },
    {
      dead_letters     = google_monitoring_alert_policy.dead_letters.name
      backfill_failed  = google_monitoring_alert_policy.backfill_failed.name
      backfill_stalled = google_monitoring_alert_policy.backfill_stalled.name
      task_backlog     = google_monitoring_alert_policy.task_backlog.name
      control_queue    = google_monitoring_alert_policy.control_queue.name
      function_5xx     = google_monitoring_alert_policy.function_5xx.name
      write_errors     = google_monitoring_alert_policy.write_errors.name
    },
  )
}

output "dashboard" {
  description = "Resource name of the golden-signals dashboard (monitoring.tf); open it under Monitoring > Dashboards."
  value       = google_monitoring_dashboard.pipeline.id
}
