# Plans of the whole configuration with the real Google provider, offline: plan only, with a
# token that is never sent, and the project's number supplied in place of the Cloud Resource
# Manager call. Each run is a configuration a user will try; its asserts are what must hold in
# the plan. Checks over functions iterate over every function, so a new one is checked too.

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

run "defaults" {
  command = plan

  # Every function: its entry point is its key, the Go runtime, its own service account, and an
  # ingress that lets only internal callers in unless people or apps call it.
  assert {
    condition     = alltrue([for ep, f in google_cloudfunctions2_function.function : f.build_config[0].entry_point == ep && f.build_config[0].runtime == "go126"])
    error_message = "Every function must deploy its own entry point on the go126 runtime."
  }
  assert {
    condition     = alltrue([for ep, f in google_cloudfunctions2_function.function : f.service_config[0].service_account_email == google_service_account.function[ep].email && startswith(google_service_account.function[ep].account_id, "fn-")])
    error_message = "Every function must run as its own fn-* service account."
  }
  assert {
    condition     = length(distinct([for f in google_cloudfunctions2_function.function : f.service_config[0].service_account_email])) == length(google_cloudfunctions2_function.function)
    error_message = "No two functions may share a runtime service account."
  }
  assert {
    condition     = alltrue([for f in google_cloudfunctions2_function.function : contains(["ALLOW_INTERNAL_ONLY", "ALLOW_ALL"], f.service_config[0].ingress_settings)])
    error_message = "Every function's ingress must be ALLOW_INTERNAL_ONLY or ALLOW_ALL."
  }
  assert {
    condition = alltrue([for ep, want in {
      StreamTweets    = "ALLOW_INTERNAL_ONLY"
      CollectEvents   = "ALLOW_ALL"
      LoadEvents      = "ALLOW_INTERNAL_ONLY"
      Backfill        = "ALLOW_ALL"
      RunBackfillTask = "ALLOW_INTERNAL_ONLY"
    } : google_cloudfunctions2_function.function[ep].service_config[0].ingress_settings == want])
    error_message = "Only CollectEvents and Backfill, which apps and people call, accept external traffic."
  }
  assert {
    condition     = alltrue([for f in google_cloudfunctions2_function.function : f.service_config[0].environment_variables.GOOGLE_CLOUD_PROJECT == "pk-test-project" && f.location == "us-central1"])
    error_message = "Every function runs in the region and knows its project."
  }
  assert {
    condition     = alltrue([for f in google_cloudfunctions2_function.function : f.build_config[0].source[0].storage_source[0].object == google_storage_bucket_object.source[0].name])
    error_message = "Every function builds from the one source zip."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.WORKER_URL == "https://run-backfill-task-123456789012.us-central1.run.app" && google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.BACKFILL_URL == "https://backfill-123456789012.us-central1.run.app"
    error_message = "Backfill must know its own and the worker's deterministic run.app URLs."
  }

  # Nobody public, and only the configuration's callers, may invoke a function.
  assert {
    condition = alltrue([for m in concat(
      [for b in google_cloud_run_service_iam_member.invoker : b.member],
      [for b in google_project_iam_member.firestore_user : b.member],
      [for b in google_bigquery_table_iam_member.writer : b.member],
      [for b in google_pubsub_topic_iam_member.events_publisher : b.member],
      [google_pubsub_topic_iam_member.job_events_publisher.member],
      [for b in google_secret_manager_secret_iam_member.reader : b.member],
      [google_project_iam_member.build.member, google_cloud_tasks_queue_iam_member.backfill_enqueuer[0].member, google_cloud_tasks_queue_iam_member.backfill_sweeper[0].member],
    ) : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "No binding may grant anything to allUsers or allAuthenticatedUsers."
  }
  assert {
    condition     = length(google_cloud_run_service_iam_member.collect_events_public) == 0 && google_cloudfunctions2_function.function["CollectEvents"].service_config[0].environment_variables.REQUIRE_WRITE_KEY == "false"
    error_message = "Browser collection is off by default: CollectEvents is not public, and IAM callers need no write key."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["CollectEvents"].service_config[0].environment_variables.RATE_LIMIT_SHARES == tostring(google_cloudfunctions2_function.function["CollectEvents"].service_config[0].max_instance_count)
    error_message = "A write key's rate is split between CollectEvents' max instances."
  }
  assert {
    condition = { for k, b in google_cloud_run_service_iam_member.invoker : k => "${b.service} ${b.member}" } == {
      "StreamTweets/scheduler" = "stream-tweets serviceAccount:scheduler-invoker@pk-test-project.iam.gserviceaccount.com"
      "LoadEvents/pubsub-push" = "load-events serviceAccount:pubsub-push@pk-test-project.iam.gserviceaccount.com"
      "RunBackfillTask/tasks"  = "run-backfill-task serviceAccount:tasks-invoker@pk-test-project.iam.gserviceaccount.com"
      "Backfill/tasks"         = "backfill serviceAccount:tasks-invoker@pk-test-project.iam.gserviceaccount.com"
      "Backfill/scheduler"     = "backfill serviceAccount:scheduler-invoker@pk-test-project.iam.gserviceaccount.com"
    }
    error_message = "With no invoker lists, only Scheduler, Pub/Sub push and Cloud Tasks may call functions."
  }

  # Backfill publishes job notices on the job events topic alone, which its environment names.
  assert {
    condition = (
      google_pubsub_topic_iam_member.job_events_publisher.role == "roles/pubsub.publisher" &&
      google_pubsub_topic_iam_member.job_events_publisher.member == google_service_account.function["Backfill"].member &&
      google_pubsub_topic.backfill_job_events.name == "backfill-job-events" &&
      google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.JOB_EVENTS_TOPIC == google_pubsub_topic.backfill_job_events.name
    )
    error_message = "Backfill needs pubsub.topics.publish on the job events topic (publisher on that topic), nothing wider, and JOB_EVENTS_TOPIC naming it."
  }

  # Backfill creates tasks and its sweep reads them (GetTask: cloudtasks.tasks.get), on its queue only.
  assert {
    condition = (
      google_cloud_tasks_queue_iam_member.backfill_enqueuer[0].role == "roles/cloudtasks.enqueuer" &&
      google_cloud_tasks_queue_iam_member.backfill_sweeper[0].role == "roles/cloudtasks.viewer" &&
      google_cloud_tasks_queue_iam_member.backfill_sweeper[0].name == google_cloud_tasks_queue.backfill[0].name &&
      google_cloud_tasks_queue_iam_member.backfill_sweeper[0].member == google_service_account.function["Backfill"].member
    )
    error_message = "Backfill needs cloudtasks.tasks.create and cloudtasks.tasks.get on its queue (enqueuer and viewer), nothing wider."
  }

  # The loader's push subscription: the topic in the path, OIDC, retries and the dead-letter policy.
  assert {
    condition     = google_pubsub_subscription.loader[0].push_config[0].push_endpoint == "https://load-events-123456789012.us-central1.run.app/projects/pk-test-project/topics/events"
    error_message = "The push endpoint must end in /projects/PROJECT/topics/TOPIC: the loader reads the topic from the path."
  }
  assert {
    condition     = google_pubsub_subscription.loader[0].push_config[0].oidc_token[0].service_account_email == google_service_account.pubsub_push.email && google_pubsub_subscription.loader[0].push_config[0].oidc_token[0].audience == "https://load-events-123456789012.us-central1.run.app"
    error_message = "Pushes must carry an ID token of pubsub-push for LoadEvents' URL."
  }
  assert {
    condition     = google_pubsub_subscription.loader[0].dead_letter_policy[0].max_delivery_attempts == 10 && google_pubsub_subscription.loader[0].retry_policy[0].minimum_backoff == "10s" && google_pubsub_subscription.loader[0].retry_policy[0].maximum_backoff == "600s"
    error_message = "The loader's subscription must dead-letter after 10 deliveries with 10s-600s backoff."
  }
  assert {
    condition     = google_pubsub_subscription.loader[0].ack_deadline_seconds == google_cloudfunctions2_function.function["LoadEvents"].service_config[0].timeout_seconds
    error_message = "A push's ack deadline must be the loader's timeout."
  }

  # The backfill queue's rate and retries, and the worker told the last attempt.
  assert {
    condition     = google_cloud_tasks_queue.backfill[0].rate_limits[0].max_dispatches_per_second == 50 && google_cloud_tasks_queue.backfill[0].rate_limits[0].max_concurrent_dispatches == 50
    error_message = "The queue dispatches at most 50 tasks a second, 50 at once."
  }
  assert {
    condition = (google_cloud_tasks_queue.backfill[0].retry_config[0].max_attempts == 8
      && google_cloud_tasks_queue.backfill[0].retry_config[0].min_backoff == "10s"
      && google_cloud_tasks_queue.backfill[0].retry_config[0].max_backoff == "600s"
      && google_cloud_tasks_queue.backfill[0].retry_config[0].max_doublings == 5
    && google_cloud_tasks_queue.backfill[0].retry_config[0].max_retry_duration == "86400s")
    error_message = "The queue retries a task 8 times, 10s to 600s apart, for at most a day."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["RunBackfillTask"].service_config[0].environment_variables.QUEUE_MAX_ATTEMPTS == "8"
    error_message = "The worker must know the queue's last attempt."
  }

  # Every backfill job ends: the worker stops its work before the dispatch deadline, and a
  # scheduled sweep, signed by the Scheduler account, re-enqueues or fails lost tasks.
  assert {
    condition = (google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.DISPATCH_DEADLINE == "600s"
      && google_cloudfunctions2_function.function["RunBackfillTask"].service_config[0].environment_variables.WORK_TIMEOUT == "540s"
    && google_cloudfunctions2_function.function["RunBackfillTask"].service_config[0].timeout_seconds >= 600)
    error_message = "Worker tasks wait 600 s for an answer; the worker stops its work at 540 s and runs for up to 600 s."
  }
  assert {
    condition = (google_cloud_scheduler_job.backfill_sweep[0].schedule == "*/10 * * * *"
      && google_cloud_scheduler_job.backfill_sweep[0].http_target[0].http_method == "POST"
      && google_cloud_scheduler_job.backfill_sweep[0].http_target[0].uri == "https://backfill-123456789012.us-central1.run.app/backfills:sweep"
      && google_cloud_scheduler_job.backfill_sweep[0].http_target[0].oidc_token[0].service_account_email == google_service_account.scheduler.email
    && google_cloud_scheduler_job.backfill_sweep[0].http_target[0].oidc_token[0].audience == "https://backfill-123456789012.us-central1.run.app")
    error_message = "Every 10 minutes Scheduler must POST /backfills:sweep to Backfill with an ID token of the scheduler account."
  }
  assert {
    condition     = length(google_secret_manager_secret_iam_member.spec_secret_reader) == 0
    error_message = "With no spec secrets listed, the worker may read no secret beyond its own."
  }

  # Secrets are declared only: their values never pass through Terraform.
  assert {
    condition     = toset([for s in google_secret_manager_secret.secret : s.secret_id]) == toset(["x-bearer-token", "youtube-client-id", "youtube-client-secret", "youtube-refresh-token", "recent-views-token-key"])
    error_message = "The five secrets must be declared."
  }

  # The rankings have their own database, and both ranking functions' Firestore grants are
  # conditioned on it; no one mints recent-views tokens unless listed.
  assert {
    condition     = google_firestore_database.rankings.name == "rankings" && alltrue([for b in google_project_iam_member.rankings_firestore : b.condition[0].expression == "resource.name == \"projects/${var.project_id}/databases/rankings\""])
    error_message = "UpdateRankings' and ServeRankings' Firestore grants must reach only the rankings database."
  }
  assert {
    condition     = length(google_secret_manager_secret_iam_member.recent_views_minter) == 0
    error_message = "With no minters listed, only ServeRankings reads the recent-views key."
  }

  # The source zip and the first build's wait.
  assert {
    condition     = can(regex("^source-[0-9a-f]{32}\\.zip$", google_storage_bucket_object.source[0].name))
    error_message = "The source object is named by the zip's MD5."
  }
  assert {
    condition     = length(terraform_data.build_grant_propagation) == 1
    error_message = "The first build must wait for the build account's grant."
  }
}

run "functions_deployed_by_gcloud" {
  command = plan

  variables {
    deploy_functions        = false
    collect_events_invokers = ["serviceAccount:app@pk-test-project.iam.gserviceaccount.com"]
  }

  assert {
    condition = (length(google_cloudfunctions2_function.function) == 0
      && length(google_storage_bucket.source) == 0
      && length(google_pubsub_subscription.loader) == 0
      && length(google_cloud_scheduler_job.stream_tweets) == 0
      && length(google_cloud_run_service_iam_member.invoker) == 0
    && length(terraform_data.build_grant_propagation) == 0)
    error_message = "With deploy_functions = false, scripts/deploy.sh deploys the functions, their invokers, the push subscription and the job."
  }
  assert {
    condition     = length(google_service_account.function) >= 5 && google_pubsub_topic.events.name == "events" && google_cloud_tasks_queue.backfill[0].name == "backfill"
    error_message = "The accounts, topics and queue deploy.sh relies on must still be created."
  }
}

run "second_region" {
  command = plan

  variables {
    region             = "europe-west1"
    bigquery_location  = "EU"
    firestore_location = "eur3"
  }

  assert {
    condition     = alltrue([for f in google_cloudfunctions2_function.function : f.location == "europe-west1"])
    error_message = "Every function must run in the chosen region."
  }
  assert {
    condition     = google_cloud_tasks_queue.backfill[0].location == "europe-west1" && google_cloud_scheduler_job.stream_tweets[0].region == "europe-west1" && google_storage_bucket.source[0].location == "EUROPE-WEST1"
    error_message = "The queue, the Scheduler job and the source bucket must be in the chosen region."
  }
  assert {
    condition     = google_bigquery_dataset.events.location == "EU" && google_firestore_database.main.location_id == "eur3"
    error_message = "The dataset and Firestore must be where asked."
  }
  assert {
    condition     = google_pubsub_subscription.loader[0].push_config[0].push_endpoint == "https://load-events-123456789012.europe-west1.run.app/projects/pk-test-project/topics/events" && google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.WORKER_URL == "https://run-backfill-task-123456789012.europe-west1.run.app"
    error_message = "The run.app URLs must name the chosen region."
  }
}

run "existing_dataset_name" {
  command = plan

  variables {
    dataset_id       = "analytics_prod"
    events_topic     = "app-events"
    dedup_collection = "seen_events"
  }

  assert {
    condition     = google_bigquery_dataset.events.dataset_id == "analytics_prod" && alltrue([for t in merge(google_bigquery_table.table, google_bigquery_table.view, google_bigquery_table.stacked_view) : t.dataset_id == "analytics_prod"])
    error_message = "Every table and view must be in the named dataset."
  }
  assert {
    condition     = alltrue([for v in merge(google_bigquery_table.view, google_bigquery_table.stacked_view) : strcontains(v.view[0].query, "`pk-test-project.analytics_prod.") && !strcontains(v.view[0].query, ".events.")])
    error_message = "Every view must read the named dataset."
  }
  assert {
    condition     = alltrue([for ep, env in { for ep, f in google_cloudfunctions2_function.function : ep => f.service_config[0].environment_variables } : lookup(env, "BIGQUERY_DATASET", "analytics_prod") == "analytics_prod" && lookup(env, "EVENTS_TOPIC", "app-events") == "app-events" && lookup(env, "DEDUP_COLLECTION", "seen_events") == "seen_events"])
    error_message = "Every function must be told the names chosen."
  }
  assert {
    condition     = endswith(google_pubsub_subscription.loader[0].push_config[0].push_endpoint, "/projects/pk-test-project/topics/app-events")
    error_message = "The push endpoint must name the chosen topic."
  }
}

# Browser collection: CollectEvents, and only it, becomes public, and then requires a write key.
run "browser_collection" {
  command = plan

  variables {
    browser_collection = true
  }

  assert {
    condition     = [for b in google_cloud_run_service_iam_member.collect_events_public : "${b.service} ${b.role} ${b.member}"] == ["collect-events roles/run.invoker allUsers"]
    error_message = "With browser_collection, exactly one public binding: run.invoker on CollectEvents."
  }
  assert {
    condition     = alltrue([for b in google_cloud_run_service_iam_member.invoker : !contains(["allUsers", "allAuthenticatedUsers"], b.member)])
    error_message = "No other function becomes public with browser_collection."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["CollectEvents"].service_config[0].environment_variables.REQUIRE_WRITE_KEY == "true" && google_cloudfunctions2_function.function["CollectEvents"].service_config[0].environment_variables.WRITE_KEYS_COLLECTION == "collect_write_keys"
    error_message = "A public CollectEvents must refuse requests without a write key."
  }
}

run "browser_collection_functions_deployed_by_gcloud" {
  command = plan

  variables {
    browser_collection = true
    deploy_functions   = false
  }

  assert {
    condition     = length(google_cloud_run_service_iam_member.collect_events_public) == 0
    error_message = "With deploy_functions = false, scripts/deploy.sh --browser-collection grants the public binding."
  }
}

run "invokers_set" {
  command = plan

  variables {
    collect_events_invokers = ["serviceAccount:app@pk-test-project.iam.gserviceaccount.com"]
    backfill_invokers       = ["user:me@example.com", "group:data@example.com"]
  }

  assert {
    condition = toset([for b in google_cloud_run_service_iam_member.invoker : "${b.service} ${b.member}" if !endswith(b.member, "@pk-test-project.iam.gserviceaccount.com") || startswith(b.member, "serviceAccount:app@")]) == toset([
      "collect-events serviceAccount:app@pk-test-project.iam.gserviceaccount.com",
      "backfill user:me@example.com",
      "backfill group:data@example.com",
    ])
    error_message = "The listed principals, and only they, may call CollectEvents and Backfill."
  }
  assert {
    condition     = length(google_cloud_run_service_iam_member.invoker) == 8
    error_message = "Five callers' bindings plus one per listed principal."
  }
}

# Secrets that http_json specs name: the worker reads exactly the listed ones, each granted on the
# secret itself, and no project-wide Secret Manager role exists.
run "spec_secrets_granted" {
  command = plan

  variables {
    backfill_spec_secret_ids = ["partner-api-key", "weather_token"]
  }

  assert {
    condition = { for k, b in google_secret_manager_secret_iam_member.spec_secret_reader : k => "${b.project} ${b.secret_id} ${b.role} ${b.member}" } == {
      "partner-api-key" = "pk-test-project partner-api-key roles/secretmanager.secretAccessor serviceAccount:fn-run-backfill-task@pk-test-project.iam.gserviceaccount.com"
      "weather_token"   = "pk-test-project weather_token roles/secretmanager.secretAccessor serviceAccount:fn-run-backfill-task@pk-test-project.iam.gserviceaccount.com"
    }
    error_message = "Each listed secret, and only it, must be readable by RunBackfillTask's account."
  }
  assert {
    condition     = alltrue([for b in google_project_iam_member.firestore_user : !startswith(b.role, "roles/secretmanager.")]) && google_project_iam_member.build.role != "roles/secretmanager.secretAccessor"
    error_message = "No Secret Manager role may be granted on the whole project."
  }
}

# The backfill's write-heavy fields have no single-field index, and the fields its queries use
# keep theirs (issue 27: sequential indexed values cap a collection at 500 writes/s).
run "backfill_index_exemptions" {
  command = plan

  assert {
    condition = alltrue([for k in ["shards.index", "shards.updated_at", "counters.succeeded", "counters.updated_at", "sweeps.at", "raw.data"] :
    contains(keys(google_firestore_field.backfill_unindexed), k) && length(coalesce(google_firestore_field.backfill_unindexed[k].index_config[0].indexes, [])) == 0])
    error_message = "The shards' index and updated_at, the counters' totals and the raw pages' data must not be indexed."
  }
  assert {
    condition     = !contains(keys(google_firestore_field.backfill_unindexed), "shards.state") && !contains(keys(google_firestore_field.backfill_unindexed), "quota.at")
    error_message = "shards.state (failed and retried shards) and quota.at (the latest quota notice) are queried and must stay indexed."
  }
  assert {
    condition     = alltrue([for f in google_firestore_field.backfill_unindexed : f.database == "(default)"])
    error_message = "The exemptions belong to the backfill jobs' database."
  }
}

# Four queues: backfill, backfill-1, -2, -3, each paced alike, each open to Backfill, and all
# four in BACKFILL_QUEUE.
run "four_backfill_queues" {
  command = plan
  variables {
    backfill_queues                 = 4
    queue_max_dispatches_per_second = 25
  }

  assert {
    condition     = [for q in google_cloud_tasks_queue.backfill : q.name] == ["backfill", "backfill-1", "backfill-2", "backfill-3"]
    error_message = "Four queues named backfill, backfill-1, backfill-2, backfill-3."
  }
  assert {
    condition     = alltrue([for q in google_cloud_tasks_queue.backfill : q.rate_limits[0].max_dispatches_per_second == 25])
    error_message = "Every queue is paced at queue_max_dispatches_per_second."
  }
  assert {
    condition     = length(google_cloud_tasks_queue_iam_member.backfill_enqueuer) == 4 && length(google_cloud_tasks_queue_iam_member.backfill_sweeper) == 4
    error_message = "Backfill may create and read tasks in every queue."
  }
  assert {
    condition     = length(split(",", google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.BACKFILL_QUEUE)) == 4
    error_message = "BACKFILL_QUEUE lists the four queues."
  }
}

# The control queue: its own rates, a retry config that never drops a link (max_attempts -1, no
# age limit: max_retry_duration "0s" in tasks.tf, which the plan leaves unknown, backoff 1 s to 60 s), Backfill allowed to create tasks in it and nothing more, and
# its full name in BACKFILL_CONTROL_QUEUE; with four worker queues it holds their 8 chains.
run "backfill_control_queue" {
  command = plan
  variables {
    backfill_queues                 = 4
    queue_max_dispatches_per_second = 25
  }

  assert {
    condition = (google_cloud_tasks_queue.backfill_control.name == "backfill-control" &&
      google_cloud_tasks_queue.backfill_control.rate_limits[0].max_dispatches_per_second == 10 &&
    google_cloud_tasks_queue.backfill_control.rate_limits[0].max_concurrent_dispatches == 40)
    error_message = "The control queue is backfill-control, 10 dispatches/s, 40 in flight."
  }
  assert {
    condition = (google_cloud_tasks_queue.backfill_control.retry_config[0].max_attempts == -1 &&
      google_cloud_tasks_queue.backfill_control.retry_config[0].min_backoff == "1s" &&
    google_cloud_tasks_queue.backfill_control.retry_config[0].max_backoff == "60s")
    error_message = "The control queue retries a link without limit, backing off from 1 s to 60 s."
  }
  assert {
    condition = (google_cloud_tasks_queue_iam_member.backfill_control_enqueuer.role == "roles/cloudtasks.enqueuer" &&
      google_cloud_tasks_queue_iam_member.backfill_control_enqueuer.name == "backfill-control" &&
    google_cloud_tasks_queue_iam_member.backfill_control_enqueuer.member == google_service_account.function["Backfill"].member)
    error_message = "Backfill, and only through the enqueuer role, creates tasks in the control queue."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.BACKFILL_CONTROL_QUEUE == "projects/pk-test-project/locations/us-central1/queues/backfill-control"
    error_message = "BACKFILL_CONTROL_QUEUE is the control queue's full name."
  }
  assert {
    condition     = !strcontains(google_cloudfunctions2_function.function["Backfill"].service_config[0].environment_variables.BACKFILL_QUEUE, "backfill-control")
    error_message = "The control queue is not a worker queue."
  }
}

# The rankings' log layout, the default (shared/rankings/log.go): its records' index for the
# latest tweets of a term, TTLs on its records and ledgers (never on rankings_meta/log), bodies
# and the rising minute unindexed, the layout passed to both functions, and UpdateRankings taking
# the 1,000 deliveries a group holds.
run "rankings_log_layout" {
  command = plan

  assert {
    condition = (google_firestore_index.rankings_log_by_term.collection == "rankings_log" &&
      google_firestore_index.rankings_log_by_term.database == "rankings" &&
      length(google_firestore_index.rankings_log_by_term.fields) == 2 &&
      google_firestore_index.rankings_log_by_term.fields[0].field_path == "terms" &&
      google_firestore_index.rankings_log_by_term.fields[0].array_config == "CONTAINS" &&
      google_firestore_index.rankings_log_by_term.fields[1].field_path == "minute_us" &&
    google_firestore_index.rankings_log_by_term.fields[1].order == "DESCENDING")
    error_message = "rankings_log must have the index (terms CONTAINS, minute_us DESCENDING) in the rankings database."
  }
  assert {
    condition = alltrue([for k, c in { log = "rankings_log", dups = "rankings_dups", keys = "rankings_keys" } :
      google_firestore_field.rankings_expires_at[k].collection == c &&
      google_firestore_field.rankings_expires_at[k].field == "expires_at" &&
      length(google_firestore_field.rankings_expires_at[k].ttl_config) == 1 &&
    length(coalesce(google_firestore_field.rankings_expires_at[k].index_config[0].indexes, [])) == 0])
    error_message = "Firestore must delete rankings_log, rankings_dups and rankings_keys documents after expires_at, which is unindexed."
  }
  assert {
    condition     = !contains(keys(google_firestore_field.rankings_expires_at), "meta")
    error_message = "rankings_meta/log records when the log layout started and must never expire."
  }
  assert {
    condition = alltrue([for k, want in {
      "log/body"      = ["rankings_log", "body"]
      "log/minute_us" = ["rankings_log", "minute_us"]
      "dups/body"     = ["rankings_dups", "body"]
      } : google_firestore_field.rankings_log_unindexed[k].collection == want[0] &&
      google_firestore_field.rankings_log_unindexed[k].field == want[1] &&
      google_firestore_field.rankings_log_unindexed[k].database == "rankings" &&
    length(coalesce(google_firestore_field.rankings_log_unindexed[k].index_config[0].indexes, [])) == 0])
    error_message = "The log's and the ledgers' bodies, and the log's minute_us, must have no single-field index."
  }
  assert {
    condition     = alltrue([for ep in ["UpdateRankings", "ServeRankings"] : google_cloudfunctions2_function.function[ep].service_config[0].environment_variables.RANKINGS_LAYOUT == "log"])
    error_message = "Both ranking functions must run the layout rankings_layout names (log by default)."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["UpdateRankings"].service_config[0].max_instance_request_concurrency == 1000
    error_message = "In the log layout UpdateRankings takes 1,000 deliveries an instance (a full group)."
  }
}

run "rankings_markers_layout" {
  command = plan

  variables {
    rankings_layout = "markers"
  }

  assert {
    condition     = alltrue([for ep in ["UpdateRankings", "ServeRankings"] : google_cloudfunctions2_function.function[ep].service_config[0].environment_variables.RANKINGS_LAYOUT == "markers"])
    error_message = "Both ranking functions must run the layout rankings_layout names."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["UpdateRankings"].service_config[0].max_instance_request_concurrency == 250
    error_message = "In the markers layout UpdateRankings keeps 250 deliveries an instance."
  }
}
