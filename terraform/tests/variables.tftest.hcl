# Every validation rule of variables.tf: one run refuses a bad value of each variable at once
# (expect_failures names every variable whose rule must fail, so a rule that lets its bad value
# through is reported by name), and one run plans with good values that are not the defaults,
# including the longest ids each rule allows. The Go test TestEveryValidationIsTested checks that
# every validated variable has its run here.

# The rules run before any resource is planned, so a mocked provider and a mocked archive keep
# these plans fast; plan.tftest.hcl plans with the real provider.
mock_provider "google" {
  override_data {
    target = data.google_project.this
    values = { number = "123456789012" }
  }
}

override_data {
  target = data.archive_file.source
  values = { output_md5 = "0123456789abcdef0123456789abcdef", output_path = "source.zip" }
}

variables {
  project_id = "pk-test-project"
}

run "good_values_are_accepted" {
  command = plan

  variables {
    project_id                   = "a-project-id-of-30-characters"
    region                       = "europe-west1"
    events_topic                 = "app.events~v2+x%20"
    dead_letter_topic            = "dlq"
    backfill_job_events_topic    = "jobs.ended~v1"
    loader_subscription          = "Loader_1"
    dead_letter_subscription     = "dead-letters-inspect"
    loader_max_delivery_attempts = 100
    loader_min_backoff           = "0s"
    loader_max_backoff           = "600s"
    message_retention_duration   = "600s"
    dataset_id                   = replace(format("%1024s", ""), " ", "d")
    dedup_collection             = replace(format("%1500s", ""), " ", "c")
    dedup_ttl                    = "1h30m"
    collect_max_body_bytes       = 8039082 # the most CollectEvents' memory holds at its concurrency
    collect_max_events           = 1
    write_keys_collection        = replace(format("%1500s", ""), " ", "k")
    write_key_ttl                = "10m"
    # A key of the right shape, built here so no key-shaped string is ever in the repository.
    deck_collect_key                           = join("_", ["wk", format("%016x", 0), replace(format("%43s", ""), " ", "A")])
    collect_events_invokers                    = ["serviceAccount:app@pk-test-project.iam.gserviceaccount.com", "group:apps@example.com"]
    stream_schedule                            = "*/2 * * * *"
    stream_duration                            = "90s"
    stream_lease_ttl                           = "2m"
    stream_lease_doc                           = "leases/x-stream/holders/one"
    stream_rules                               = [{ value = "#golang lang:en", tag = "go" }, { value = "bigquery" }]
    backfill_queue                             = "backfill-2"
    backfill_control_queue                     = "Control-9"
    backfill_control_max_dispatches_per_second = 500
    backfill_control_max_concurrent_dispatches = 5000
    queue_max_dispatches_per_second            = 500
    backfill_task_seconds                      = 0.4 # 500/s x 0.4 s: the 200 tasks RunBackfillTask holds
    queue_max_concurrent_dispatches            = 5000
    queue_max_attempts                         = 100
    queue_max_retry_duration                   = "0s"
    queue_min_backoff                          = "0.5s"
    queue_max_backoff                          = "3600s"
    queue_max_doublings                        = 0
    backfill_invokers                          = ["user:me@example.com", "domain:example.com"]
    backfill_max_tasks                         = 100000000
    backfill_enqueue_slice                     = 2
    notification_channels                      = ["projects/pk-test-project/notificationChannels/1"]
    alert_dead_letters_per_5m                  = 1000000
    alert_oldest_unacked_seconds               = 604800
    alert_stream_not_read_minutes              = 1440
    alert_task_delay_seconds                   = 86400
    alert_5xx_ratio                            = 1
    alert_write_errors_per_5m                  = 0
    backfill_enqueue_parallelism               = 1000
    backfill_enqueue_rate                      = 0
    backfill_counter_shards                    = 10000
    backfill_api_timeout                       = "2m"
    backfill_dispatch_deadline                 = "570s"
    backfill_work_timeout                      = "1s"
    backfill_sweep_schedule                    = "0 * * * *"
    backfill_sweep_after                       = "0s"
    backfill_sweep_max_attempts                = 0
    backfill_sweep_budget                      = 100000
    backfill_spec_secret_ids                   = [replace(format("%255s", ""), " ", "s"), "b_2"]
    stream_lease_wait                          = "600s"
    stream_backfill_minutes                    = 5
    rankings_subscription                      = "Rankings.v2"
    rankings_shards                            = 500
    rankings_layout                            = "markers"
    rankings_cache_ttl                         = "60s"
    rankings_invokers                          = ["group:team@example.com"]
    rankings_database                          = "r-${join("", [for i in range(60) : "a"])}9"
    recent_views_key_secret_id                 = "rv_key-2"
    recent_views_token_minters                 = ["serviceAccount:app@p.iam.gserviceaccount.com"]
    deck_default_keyword                       = "#gcp"
    deck_window                                = "15m"
    deck_poll_interval                         = "10m"
    deck_database                              = "d-${join("", [for i in range(60) : "a"])}9"
    deck_authorized_domains                    = ["deck.example.com"]
    bigquery_location                          = "europe-west1"
    firestore_location                         = "eur3"
    scheduler_time_zone                        = "America/Argentina/Buenos_Aires"
    stream_params                              = "tweet.fields=created_at,lang&expansions=author_id"
    stream_lang_filter                         = ["en", "und", "zh-cn"]
    x_bearer_token_secret_id                   = "x_bearer-2"
    backfill_http_allowed_hosts                = ["api.example.com", "*.example.org", "*", "127.0.0.1"]
    youtube_secret_ids                         = { client_id = "yt-id", refresh_token = "yt_refresh" }
  }

  assert {
    condition     = google_bigquery_dataset.events.dataset_id == var.dataset_id && length(google_bigquery_dataset.events.dataset_id) == 1024
    error_message = "A 1024-character dataset id (BigQuery's limit) must be accepted and used."
  }
  assert {
    condition     = google_firestore_field.dedup_expires_at.collection == var.dedup_collection
    error_message = "A 1500-character collection id (Firestore's limit) must be accepted and used."
  }
}

run "bad_values_are_refused" {
  command = plan

  variables {
    project_id                                 = "My_Project"
    region                                     = "us-central1-a"
    events_topic                               = "goog-events"
    dead_letter_topic                          = "dl"
    backfill_job_events_topic                  = "goog-jobs"
    loader_subscription                        = "1-loader"
    dead_letter_subscription                   = "goog-inspect"
    loader_max_delivery_attempts               = 4
    loader_min_backoff                         = "601s"
    loader_max_backoff                         = "10m"
    message_retention_duration                 = "599s"
    dataset_id                                 = "my-events"
    dedup_collection                           = "seen/ids"
    dedup_ttl                                  = "1d"
    collect_max_body_bytes                     = 33554433
    collect_max_events                         = 0
    write_keys_collection                      = "keys/x"
    write_key_ttl                              = "1h"
    deck_collect_key                           = "not-a-key"
    collect_events_invokers                    = ["allUsers"]
    stream_schedule                            = "* * * *"
    stream_duration                            = "1723s"
    stream_lease_ttl                           = "1h"
    stream_lease_doc                           = "leases"
    stream_rules                               = [{ value = " " }]
    backfill_queue                             = "back_fill"
    backfill_control_queue                     = "back_fill_control"
    backfill_control_max_dispatches_per_second = 0
    backfill_control_max_concurrent_dispatches = 1
    queue_max_dispatches_per_second            = 0
    queue_max_concurrent_dispatches            = 1.5
    queue_max_attempts                         = -1
    queue_max_retry_duration                   = "1d"
    queue_min_backoff                          = "10"
    queue_max_backoff                          = "10m"
    queue_max_doublings                        = 17
    backfill_invokers                          = ["allAuthenticatedUsers"]
    backfill_max_tasks                         = 0
    backfill_enqueue_slice                     = 1
    backfill_enqueue_parallelism               = 1001
    backfill_enqueue_rate                      = 2.5
    backfill_counter_shards                    = 10001
    backfill_api_timeout                       = "30"
    stream_lease_wait                          = "601s"
    stream_backfill_minutes                    = 6
    rankings_subscription                      = "goog-rankings"
    rankings_shards                            = 0
    rankings_layout                            = "claims"
    rankings_cache_ttl                         = "2m"
    rankings_invokers                          = ["allUsers"]
    deck_default_keyword                       = "two words"
    deck_window                                = "2h"
    deck_poll_interval                         = "500ms"
    deck_database                              = "Deck"
    deck_authorized_domains                    = ["https://deck.example.com"]
    backfill_dispatch_deadline                 = "14s"
    backfill_work_timeout                      = "9m"
    backfill_sweep_schedule                    = "every 10 minutes"
    backfill_sweep_after                       = "86401s"
    backfill_sweep_max_attempts                = 1.5
    backfill_sweep_budget                      = 0
    backfill_spec_secret_ids                   = ["projects/p/secrets/x"]
    bigquery_location                          = "us"
    firestore_location                         = "nam"
    scheduler_time_zone                        = "CET+1"
    stream_params                              = "?tweet.fields=lang"
    stream_lang_filter                         = ["English"]
    x_bearer_token_secret_id                   = "projects/p/secrets/x"
    rankings_database                          = "(default)"
    recent_views_key_secret_id                 = "projects/p/secrets/k"
    recent_views_token_minters                 = ["allUsers"]
    backfill_http_allowed_hosts                = ["https://api.example.com"]
    youtube_secret_ids                         = { client_secret = "a secret" }
    notification_channels                      = ["projects/p/notificationChannels/abc"]
    alert_dead_letters_per_5m                  = -1
    alert_oldest_unacked_seconds               = 59
    alert_stream_not_read_minutes              = 1
    alert_task_delay_seconds                   = 0
    alert_5xx_ratio                            = 0
    backfill_queues                            = 0
    backfill_task_seconds                      = 0
    alert_write_errors_per_5m                  = 1.5
  }

  expect_failures = [
    var.project_id,
    var.region,
    var.events_topic,
    var.dead_letter_topic,
    var.backfill_job_events_topic,
    var.loader_subscription,
    var.dead_letter_subscription,
    var.loader_max_delivery_attempts,
    var.loader_min_backoff,
    var.loader_max_backoff,
    var.message_retention_duration,
    var.dataset_id,
    var.dedup_collection,
    var.dedup_ttl,
    var.collect_max_body_bytes,
    var.collect_max_events,
    var.write_keys_collection,
    var.write_key_ttl,
    var.deck_collect_key,
    var.collect_events_invokers,
    var.stream_schedule,
    var.stream_duration,
    var.stream_lease_ttl,
    var.stream_lease_doc,
    var.stream_rules,
    var.backfill_queues,
    var.backfill_task_seconds,
    var.backfill_queue,
    var.backfill_control_queue,
    var.backfill_control_max_dispatches_per_second,
    var.backfill_control_max_concurrent_dispatches,
    var.queue_max_dispatches_per_second,
    var.queue_max_concurrent_dispatches,
    var.queue_max_attempts,
    var.queue_max_retry_duration,
    var.queue_min_backoff,
    var.queue_max_backoff,
    var.queue_max_doublings,
    var.backfill_invokers,
    var.backfill_max_tasks,
    var.backfill_enqueue_slice,
    var.backfill_enqueue_parallelism,
    var.backfill_enqueue_rate,
    var.backfill_counter_shards,
    var.backfill_api_timeout,
    var.stream_lease_wait,
    var.stream_backfill_minutes,
    var.rankings_subscription,
    var.rankings_shards,
    var.rankings_layout,
    var.rankings_cache_ttl,
    var.rankings_invokers,
    var.deck_default_keyword,
    var.deck_window,
    var.deck_poll_interval,
    var.deck_database,
    var.deck_authorized_domains,
    var.backfill_dispatch_deadline,
    var.backfill_work_timeout,
    var.backfill_sweep_schedule,
    var.backfill_sweep_after,
    var.backfill_sweep_max_attempts,
    var.backfill_sweep_budget,
    var.backfill_spec_secret_ids,
    var.bigquery_location,
    var.firestore_location,
    var.scheduler_time_zone,
    var.stream_params,
    var.stream_lang_filter,
    var.x_bearer_token_secret_id,
    var.rankings_database,
    var.recent_views_key_secret_id,
    var.recent_views_token_minters,
    var.backfill_http_allowed_hosts,
    var.youtube_secret_ids,
    var.notification_channels,
    var.alert_dead_letters_per_5m,
    var.alert_oldest_unacked_seconds,
    var.alert_stream_not_read_minutes,
    var.alert_task_delay_seconds,
    var.alert_5xx_ratio,
    var.alert_write_errors_per_5m,
  ]
}

# One past the longest ids the services allow.
run "too_long_ids_are_refused" {
  command = plan

  variables {
    dataset_id        = replace(format("%1025s", ""), " ", "d")
    dedup_collection  = replace(format("%1501s", ""), " ", "c")
    rankings_database = "r${replace(format("%63s", ""), " ", "a")}"
  }

  expect_failures = [
    var.dataset_id,
    var.dedup_collection,
    var.rankings_database,
  ]
}

# Not a variable rule but the queue's precondition: fewer counter shards than dispatches a second.
run "counter_shards_below_dispatch_rate_refused" {
  command = plan
  variables {
    queue_max_dispatches_per_second = 100
    backfill_counter_shards         = 50
  }
  expect_failures = [google_cloud_tasks_queue.backfill]
}

# Not a variable rule but the queue's precondition: the worker's work budget must end 30 s before
# the dispatch deadline, which must not outlast the worker function's timeout.
run "work_timeout_not_under_dispatch_deadline_refused" {
  command = plan
  variables {
    backfill_dispatch_deadline = "600s"
    backfill_work_timeout      = "590s"
  }
  expect_failures = [google_cloud_tasks_queue.backfill]
}

run "dispatch_deadline_over_worker_timeout_refused" {
  command = plan
  variables {
    backfill_dispatch_deadline = "900s"
    backfill_work_timeout      = "540s"
  }
  expect_failures = [google_cloud_tasks_queue.backfill]
}

# Not a variable rule but CollectEvents' precondition: one byte more of body than good_values'
# and its 80 requests at once no longer fit its 2 GiB.
run "collect_body_over_memory_refused" {
  command = plan
  variables {
    collect_max_body_bytes = 8039083
  }
  expect_failures = [google_cloudfunctions2_function.function]
}

# RunBackfillTask holds 20 x 10 = 200 tasks at once. At the bound: 2 queues x 50/s x 2 s = 200.
run "worker_capacity_at_the_queues_rate_accepted" {
  command = plan
  variables {
    backfill_queues                 = 2
    queue_max_dispatches_per_second = 50
    backfill_task_seconds           = 2
  }
}

# One past it: 2 queues x 50/s x 2.01 s = 201 tasks in flight, more than RunBackfillTask holds.
run "worker_capacity_under_the_queues_rate_refused" {
  command = plan
  variables {
    backfill_queues                 = 2
    queue_max_dispatches_per_second = 50
    backfill_task_seconds           = 2.01
  }
  expect_failures = [google_cloud_tasks_queue.backfill]
}

# backfill_queues: 20 is the most (20 x 500 dispatches/s fill 10,000 counter shards), 21 is refused.
run "twenty_queues_accepted" {
  command = plan
  variables {
    backfill_queues                 = 20
    queue_max_dispatches_per_second = 1
    backfill_counter_shards         = 20
  }
}

run "twenty_one_queues_refused" {
  command = plan
  variables {
    backfill_queues = 21
  }
  expect_failures = [var.backfill_queues]
}

# The control queue holds every chain's link: 2 x backfill_queues in flight at least.
run "control_queue_concurrency_under_the_chains_refused" {
  command = plan
  variables {
    backfill_queues                            = 4
    queue_max_dispatches_per_second            = 25
    backfill_control_max_concurrent_dispatches = 7
  }
  expect_failures = [google_cloud_tasks_queue.backfill_control]
}

run "control_queue_named_like_a_worker_queue_refused" {
  command = plan
  variables {
    backfill_control_queue = "backfill-3"
  }
  expect_failures = [google_cloud_tasks_queue.backfill_control]
}
