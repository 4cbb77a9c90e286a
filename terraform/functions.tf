# The five functions: one source zip of the repository root (the Go buildpack builds the root
# package, whose imports register every entry point) and one google_cloudfunctions2_function per
# entry point, all from the locals below. scripts/deploy.sh deploys the same functions with the
# same settings through gcloud; the tests in terraform_test.go compare the two.

locals {
  # Settings of each function, keyed by entry point (build_config.entry_point). Ingress: the
  # functions only Scheduler, Pub/Sub push or Cloud Tasks call are ALLOW_INTERNAL_ONLY; those
  # services count as internal traffic when they are in the same project and call the run.app
  # URL, which is the URL this configuration gives them. CollectEvents and Backfill are called
  # by apps and people from anywhere: ALLOW_ALL, with IAM (run.invoker) deciding who may call.
  # The rankings' functions are declared in rankings.tf and merged in.
  functions = merge({
    StreamTweets = {
      name            = "stream-tweets"
      description     = "Reads the X filtered stream for stream_duration, hands over to the next scheduled run, and publishes each message to the events topic."
      service_account = "fn-stream-tweets"
      memory          = "512Mi"
      cpu             = "1"
      # Cloud Scheduler's attempt deadline is at most 30 minutes for HTTP targets; a run is sized
      # to end before it (see scheduler.tf), and the function's timeout matches it.
      timeout_seconds = 1800
      concurrency     = 1
      max_instances   = 3
      ingress         = "ALLOW_INTERNAL_ONLY"
    }
    # Memory holds 80 maximum-size requests at once (the precondition below): 2 GiB, the most
    # 1 vCPU allows besides 4 GiB (https://cloud.google.com/run/docs/configuring/services/memory-limits).
    CollectEvents = {
      name            = "collect-events"
      description     = "Validates app events, drops the ones already published, publishes the rest to the events topic."
      service_account = "fn-collect-events"
      memory          = "2Gi"
      cpu             = "1"
      timeout_seconds = 60
      concurrency     = 80
      max_instances   = 20
      ingress         = "ALLOW_ALL"
    }
    LoadEvents = {
      name            = "load-events"
      description     = "Loads each event of the events topic into its BigQuery table, or the dead-letter table."
      service_account = "fn-load-events"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 60
      concurrency     = 80
      max_instances   = 20
      ingress         = "ALLOW_INTERNAL_ONLY"
    }
    Backfill = {
      name            = "backfill"
      description     = "Starts, lists and reports backfills; plans each into Cloud Tasks tasks."
      service_account = "fn-backfill"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 540
      concurrency     = 10
      max_instances   = 5
      ingress         = "ALLOW_ALL"
    }
    RunBackfillTask = {
      name            = "run-backfill-task"
      description     = "Runs one backfill task from Cloud Tasks: fetches its slice of a source API into BigQuery."
      service_account = "fn-run-backfill-task"
      memory          = "512Mi"
      cpu             = "1"
      timeout_seconds = 600
      concurrency     = 10
      max_instances   = 20
      ingress         = "ALLOW_INTERNAL_ONLY"
    }
  }, local.ranking_functions)

  # The memory of a CollectEvents request at its peak, and of an instance besides its requests:
  # functions/collectevents/memory.go's RequestPeakBytes and InstanceBaseBytes (a Go test
  # compares). "Cloud Run instances that exceed their allowed memory limit are terminated"
  # (https://cloud.google.com/run/docs/configuring/services/memory-limits), every request on them
  # failing, so the function's memory must hold its concurrency times the request's peak.
  collect_request_peak_bytes  = 3 * var.collect_max_body_bytes + 1048576
  collect_instance_base_bytes = 134217728

  # Each function's memory in bytes, from its "<n>Mi" or "<n>Gi".
  memory_bytes = { for ep, f in local.functions : ep => tonumber(trimsuffix(trimsuffix(f.memory, "Gi"), "Mi")) * (endswith(f.memory, "Gi") ? 1073741824 : 1048576) }

  # The Go runtime of every function: go.mod's go directive must not be newer.
  runtime = "go126"

  # How long a first apply waits for the build account's grant to propagate (IAM says "usually
  # within 2 minutes").
  iam_propagation_seconds = 120

  # Predicted URLs of the functions. Backfill needs its own URL (BACKFILL_URL) and the worker's
  # (WORKER_URL), but one for_each resource cannot read its own instances' attributes (a cycle),
  # and a function can never read its own. Cloud Run gives every service a deterministic URL,
  # https://SERVICE-PROJECT_NUMBER.REGION.run.app, known before the service exists; a 2nd gen
  # function's service is named after the function. It is a run.app URL, so Cloud Tasks calls to
  # it count as internal traffic, and Cloud Run accepts ID tokens whose audience is any of the
  # service's URLs. (The alternatives: a second apply that reads the URLs back, or a two-step
  # deploy with `gcloud functions deploy --update-env-vars`, both leave the first apply broken.)
  function_urls = {
    for ep, f in local.functions : ep => "https://${f.name}-${data.google_project.this.number}.${var.region}.run.app"
  }

  # Environment values are built from names known at plan time (a map with one unknown value is
  # unknown as a whole), still referring to the resources so the functions come after them.
  secret_version = { for k, s in google_secret_manager_secret.secret : k => "projects/${var.project_id}/secrets/${s.secret_id}/versions/latest" }

  # Environment of each function: exactly the variables its LoadConfig reads (the tests check
  # both ways), except local-only ones (the secrets' plain values, API base URLs for fakes,
  # ALLOW_PRIVATE_HOSTS) and emulator hosts.
  function_env = merge({
    StreamTweets = {
      GOOGLE_CLOUD_PROJECT    = var.project_id
      EVENTS_TOPIC            = google_pubsub_topic.events.name
      X_BEARER_TOKEN_SECRET   = local.secret_version.x_bearer_token
      X_STREAM_RULES          = length(var.stream_rules) == 0 ? "" : jsonencode(var.stream_rules)
      X_STREAM_PARAMS         = var.stream_params
      LANG_FILTER             = join(",", var.stream_lang_filter)
      STREAM_DURATION         = var.stream_duration
      LEASE_TTL               = var.stream_lease_ttl
      LEASE_DOC               = var.stream_lease_doc
      LEASE_WAIT              = var.stream_lease_wait
      STREAM_BACKFILL_MINUTES = tostring(var.stream_backfill_minutes)
    }
    CollectEvents = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      EVENTS_TOPIC         = google_pubsub_topic.events.name
      DEDUP_COLLECTION     = google_firestore_field.dedup_expires_at.collection
      DEDUP_TTL            = var.dedup_ttl
      MAX_BODY_BYTES       = tostring(var.collect_max_body_bytes)
      MAX_EVENTS           = tostring(var.collect_max_events)
      # Write keys (docs/collect.md): their collection in the (default) database, where
      # CollectEvents' datastore.user grant already reaches; how long an instance trusts a read
      # key; whether a key is required (whenever the function is public); and how many
      # instances split a key's rate, which is the most that can serve it at once.
      WRITE_KEYS_COLLECTION = var.write_keys_collection
      WRITE_KEY_TTL         = var.write_key_ttl
      REQUIRE_WRITE_KEY     = var.browser_collection ? "true" : "false"
      RATE_LIMIT_SHARES     = tostring(local.functions.CollectEvents.max_instances)
    }
    LoadEvents = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      BIGQUERY_DATASET     = google_bigquery_dataset.events.dataset_id
    }
    Backfill = {
      GOOGLE_CLOUD_PROJECT    = var.project_id
      BACKFILL_QUEUE          = join(",", [for q in google_cloud_tasks_queue.backfill : "projects/${var.project_id}/locations/${q.location}/queues/${q.name}"])
      BACKFILL_CONTROL_QUEUE  = "projects/${var.project_id}/locations/${google_cloud_tasks_queue.backfill_control.location}/queues/${google_cloud_tasks_queue.backfill_control.name}"
      WORKER_URL              = local.function_urls.RunBackfillTask
      BACKFILL_URL            = local.function_urls.Backfill
      TASKS_SERVICE_ACCOUNT   = google_service_account.tasks_invoker.email
      MAX_TASKS               = tostring(var.backfill_max_tasks)
      HTTP_JSON_ALLOWED_HOSTS = join(",", var.backfill_http_allowed_hosts)
      ENQUEUE_SLICE           = tostring(var.backfill_enqueue_slice)
      ENQUEUE_PARALLELISM     = tostring(var.backfill_enqueue_parallelism)
      ENQUEUE_RATE            = tostring(var.backfill_enqueue_rate)
      COUNTER_SHARDS          = tostring(var.backfill_counter_shards)
      DISPATCH_DEADLINE       = var.backfill_dispatch_deadline
      SWEEP_AFTER             = var.backfill_sweep_after
      SWEEP_MAX_ATTEMPTS      = tostring(var.backfill_sweep_max_attempts)
      SWEEP_BUDGET            = tostring(var.backfill_sweep_budget)
      JOB_EVENTS_TOPIC        = google_pubsub_topic.backfill_job_events.name
    }
    RunBackfillTask = {
      GOOGLE_CLOUD_PROJECT         = var.project_id
      BIGQUERY_DATASET             = google_bigquery_dataset.events.dataset_id
      QUEUE_MAX_ATTEMPTS           = tostring(var.queue_max_attempts) # the queue's retry_config.max_attempts
      YOUTUBE_CLIENT_ID_SECRET     = local.secret_version.youtube_client_id
      YOUTUBE_CLIENT_SECRET_SECRET = local.secret_version.youtube_client_secret
      YOUTUBE_REFRESH_TOKEN_SECRET = local.secret_version.youtube_refresh_token
      X_BEARER_TOKEN_SECRET        = local.secret_version.x_bearer_token # x_search
      EVENTS_TOPIC                 = google_pubsub_topic.events.name     # x_search publishes the tweets it finds
      HTTP_JSON_ALLOWED_HOSTS      = join(",", var.backfill_http_allowed_hosts)
      COUNTER_SHARDS               = tostring(var.backfill_counter_shards)
      API_TIMEOUT                  = var.backfill_api_timeout
      WORK_TIMEOUT                 = var.backfill_work_timeout # under DISPATCH_DEADLINE (tasks.tf)
    }
  }, local.ranking_function_env)
}

# --- Source ------------------------------------------------------------------------------------

locals {
  # ../.gcloudignore is the one list of what the upload leaves out, for gcloud and for this zip.
  # It keeps to patterns the archive provider matches as gcloud does ("/path" from the root,
  # "**/name" at any depth). The archive provider has no re-include, so a "/dir/*" line becomes
  # the entries of dir (each file or folder directly in it, found through the files under it)
  # except those a "!/dir/sub/" line keeps.
  # A copy of terraform/ alone (no repository around it) still validates; the source zip's
  # precondition below then says what is missing.
  upload_ignore = [for l in split("\n", fileexists("${path.module}/../.gcloudignore") ? file("${path.module}/../.gcloudignore") : "") : trimspace(l) if trimspace(l) != "" && !startswith(trimspace(l), "#")]
  upload_keep   = [for l in local.upload_ignore : trimsuffix(trimprefix(l, "!/"), "/") if startswith(l, "!")]
  upload_excludes = distinct(flatten([for l in local.upload_ignore : (
    endswith(l, "/*")
    ? [for f in fileset("${path.module}/..", "${trimprefix(l, "/")}*") : join("/", slice(split("/", f), 0, length(split("/", trimprefix(l, "/"))))) if !contains(local.upload_keep, join("/", slice(split("/", f), 0, length(split("/", trimprefix(l, "/"))))))]
    : [trimsuffix(trimprefix(l, "/"), "/")]
  ) if !startswith(l, "!")]))
}

# The repository root, as `gcloud functions deploy --source=.` uploads it.
data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.terraform/pipelinekit-source.zip"
  excludes    = local.upload_excludes

  lifecycle {
    precondition {
      condition     = fileexists("${path.module}/../.gcloudignore") && fileexists("${path.module}/../functions.go")
      error_message = "terraform/ must sit in the pipelinekit repository: the functions' source is its parent folder, and ../.gcloudignore says what the upload leaves out."
    }
  }
}

resource "google_storage_bucket" "source" {
  count = var.deploy_functions ? 1 : 0

  name                        = "${var.project_id}-functions-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Only build inputs live here; each is named by its content and can be rebuilt from the repo.
  force_destroy = true

  depends_on = [google_project_service.api]
}

# Named by the zip's MD5, so any code change makes a new object and redeploys every function.
resource "google_storage_bucket_object" "source" {
  count = var.deploy_functions ? 1 : 0

  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source[0].name
  source = data.archive_file.source.output_path
}

# --- Functions ---------------------------------------------------------------------------------

resource "google_cloudfunctions2_function" "function" {
  for_each = var.deploy_functions ? local.functions : {}

  name        = each.value.name
  location    = var.region
  description = each.value.description

  build_config {
    runtime         = local.runtime
    entry_point     = each.key
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source[0].name
        object = google_storage_bucket_object.source[0].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_request_concurrency = each.value.concurrency
    max_instance_count               = each.value.max_instances
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.function_env[each.key]
  }

  # The build runs as the build service account, which needs its role before the first build;
  # nothing in the block above refers to the binding, and the wait below lets it propagate.
  depends_on = [google_project_iam_member.build, terraform_data.build_grant_propagation]

  lifecycle {
    precondition {
      condition     = each.key != "CollectEvents" || local.collect_instance_base_bytes + each.value.concurrency * local.collect_request_peak_bytes <= local.memory_bytes[each.key]
      error_message = "CollectEvents' memory (${each.value.memory}) cannot hold ${each.value.concurrency} requests of collect_max_body_bytes = ${var.collect_max_body_bytes} at once: it needs ${local.collect_instance_base_bytes} + ${each.value.concurrency} x (3 x ${var.collect_max_body_bytes} + 1048576) bytes. Lower collect_max_body_bytes, or raise the memory (or lower the concurrency) in locals.functions."
    }
  }
}

# A new IAM grant takes up to a few minutes to reach Cloud Build: a build started at once fails on
# a permission error and leaves the function broken. This waits once, when the grant is made
# (replaced with it), and never on later applies. It runs `sleep` on the machine running
# Terraform: a POSIX shell (Linux, macOS, Cloud Shell, WSL).
resource "terraform_data" "build_grant_propagation" {
  count = var.deploy_functions ? 1 : 0

  triggers_replace = [google_project_iam_member.build.id]

  provisioner "local-exec" {
    command = "sleep ${local.iam_propagation_seconds}"
  }
}
