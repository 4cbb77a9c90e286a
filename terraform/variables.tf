# Inputs. Every default below is the value the code and the local stack use, so a project
# applied with only project_id set behaves like `go run ./scripts/dev`.

# --- Project ---------------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "Google Cloud project id every resource is created in."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6-30 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions, the Cloud Tasks queue, the Scheduler job and the source bucket."
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a region name such as us-central1 or europe-west1 (not a zone, not a multi-region)."
  }
}

variable "bigquery_location" {
  type        = string
  description = "Location of the BigQuery dataset: a multi-region (US, EU) or a region."
  default     = "US"

  validation {
    # A multi-region (US, EU) or a region such as europe-west1; BigQuery names them so.
    condition     = can(regex("^(US|EU|[a-z]+-[a-z]+[0-9]+)$", var.bigquery_location))
    error_message = "bigquery_location must be US, EU or a region such as europe-west1."
  }
}

variable "firestore_location" {
  type        = string
  description = "Location of the Firestore (default) database: a multi-region (nam5, eur3) or a region. It cannot be changed after creation."
  default     = "nam5"

  validation {
    condition     = can(regex("^(nam5|nam7|eur3|[a-z]+-[a-z]+[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a Firestore multi-region (nam5, nam7, eur3) or a region such as europe-west1."
  }
}

variable "deploy_functions" {
  type        = bool
  description = "Deploy the functions (and their invoker bindings, the loader's push subscription and the Scheduler job) from Terraform. Set false when scripts/deploy.sh deploys them with gcloud; everything else stays Terraform's."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the BigQuery tables from `terraform destroy` and replacement (their data is the pipeline's output)."
  default     = true
}

# --- Pub/Sub -----------------------------------------------------------------------------------

variable "events_topic" {
  type        = string
  description = "Topic StreamTweets, CollectEvents and x_search backfills (RunBackfillTask) publish to (EVENTS_TOPIC)."
  default     = "events"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.events_topic)) && !startswith(var.events_topic, "goog")
    error_message = "events_topic must be a Pub/Sub topic id: 3-255 characters, starting with a letter, not with goog."
  }
}

variable "dead_letter_topic" {
  type        = string
  description = "Topic the loader's subscription forwards a message to after loader_max_delivery_attempts failed deliveries."
  default     = "events-dead-letter"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.dead_letter_topic)) && !startswith(var.dead_letter_topic, "goog")
    error_message = "dead_letter_topic must be a Pub/Sub topic id: 3-255 characters, starting with a letter, not with goog."
  }
}

variable "backfill_job_events_topic" {
  type        = string
  description = "Topic the Backfill function publishes a notice on when a backfill job ends (JOB_EVENTS_TOPIC); subscribe to it to chain work after a backfill."
  default     = "backfill-job-events"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.backfill_job_events_topic)) && !startswith(var.backfill_job_events_topic, "goog")
    error_message = "backfill_job_events_topic must be a Pub/Sub topic id: 3-255 characters, starting with a letter, not with goog."
  }
}

variable "loader_subscription" {
  type        = string
  description = "Push subscription that delivers the events topic to LoadEvents."
  default     = "events-loader"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.loader_subscription)) && !startswith(var.loader_subscription, "goog")
    error_message = "loader_subscription must be a Pub/Sub subscription id: 3-255 characters, starting with a letter."
  }
}

variable "dead_letter_subscription" {
  type        = string
  description = "Pull subscription on the dead-letter topic, for inspecting (and replaying) what the loader could not take."
  default     = "events-dead-letter-inspect"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.dead_letter_subscription)) && !startswith(var.dead_letter_subscription, "goog")
    error_message = "dead_letter_subscription must be a Pub/Sub subscription id: 3-255 characters, starting with a letter."
  }
}

variable "loader_max_delivery_attempts" {
  type        = number
  description = "Deliveries of one message to LoadEvents before Pub/Sub moves it to the dead-letter topic."
  default     = 10

  validation {
    condition     = var.loader_max_delivery_attempts >= 5 && var.loader_max_delivery_attempts <= 100 && floor(var.loader_max_delivery_attempts) == var.loader_max_delivery_attempts
    error_message = "loader_max_delivery_attempts must be an integer from 5 to 100 (Pub/Sub's limits)."
  }
}

variable "loader_min_backoff" {
  type        = string
  description = "Least delay before Pub/Sub redelivers a message LoadEvents failed (a duration in seconds such as \"10s\")."
  default     = "10s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.loader_min_backoff)) && try(tonumber(trimsuffix(var.loader_min_backoff, "s")) <= 600, false)
    error_message = "loader_min_backoff must be whole seconds such as \"10s\", at most \"600s\"."
  }
}

variable "loader_max_backoff" {
  type        = string
  description = "Longest delay before Pub/Sub redelivers a message LoadEvents failed (a duration in seconds such as \"600s\")."
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.loader_max_backoff)) && try(tonumber(trimsuffix(var.loader_max_backoff, "s")) <= 600, false)
    error_message = "loader_max_backoff must be whole seconds such as \"600s\", at most \"600s\"."
  }
}

variable "message_retention_duration" {
  type        = string
  description = "How long the loader's and the dead-letter subscriptions keep unacknowledged messages (\"600s\" to \"604800s\")."
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.message_retention_duration)) && try(tonumber(trimsuffix(var.message_retention_duration, "s")) >= 600 && tonumber(trimsuffix(var.message_retention_duration, "s")) <= 604800, false)
    error_message = "message_retention_duration must be whole seconds from \"600s\" to \"604800s\" (7 days)."
  }
}

# --- BigQuery ----------------------------------------------------------------------------------

variable "dataset_id" {
  type        = string
  description = "BigQuery dataset of the event tables and views (BIGQUERY_DATASET)."
  default     = "events"

  validation {
    # Terraform's regex engine (RE2) allows at most 1000 repetitions: the length is checked apart.
    condition     = can(regex("^[A-Za-z0-9_]+$", var.dataset_id)) && length(var.dataset_id) <= 1024
    error_message = "dataset_id must be 1-1024 letters, digits and underscores."
  }
}

# --- Firestore and CollectEvents ---------------------------------------------------------------

variable "dedup_collection" {
  type        = string
  description = "Firestore collection of the event ids CollectEvents has published (DEDUP_COLLECTION); its expires_at field gets a TTL policy."
  default     = "collect_events_seen"

  validation {
    # RE2 allows at most 1000 repetitions: the length is checked apart.
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.dedup_collection)) && length(var.dedup_collection) <= 1500
    error_message = "dedup_collection must be a collection id of 1-1500 letters, digits, underscores and hyphens (no slashes)."
  }
}

variable "dedup_ttl" {
  type        = string
  description = "How long CollectEvents remembers a published event id (DEDUP_TTL, a Go duration from 1m to 720h)."
  default     = "24h"

  validation {
    condition     = can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", var.dedup_ttl)) && var.dedup_ttl != ""
    error_message = "dedup_ttl must be a Go duration such as \"24h\" or \"90m\"."
  }
}

variable "collect_max_body_bytes" {
  type        = number
  description = "Largest request body CollectEvents accepts, in bytes (MAX_BODY_BYTES)."
  default     = 5242880

  validation {
    condition     = var.collect_max_body_bytes >= 1024 && var.collect_max_body_bytes <= 33554432
    error_message = "collect_max_body_bytes must be from 1024 to 33554432 (Cloud Functions refuses bodies over 32 MB)."
  }
}

variable "collect_max_events" {
  type        = number
  description = "Most events CollectEvents accepts in one request (MAX_EVENTS)."
  default     = 1000

  validation {
    condition     = var.collect_max_events >= 1 && var.collect_max_events <= 100000
    error_message = "collect_max_events must be from 1 to 100000."
  }
}

variable "collect_events_invokers" {
  type        = list(string)
  description = "Principals allowed to call CollectEvents, such as serviceAccount:app@PROJECT.iam.gserviceaccount.com. Public access is refused."
  default     = []

  validation {
    # Only kind:identity members pass, which leaves out the public principals.
    condition     = alltrue([for m in var.collect_events_invokers : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):.+", m))])
    error_message = "collect_events_invokers must be IAM members such as serviceAccount:EMAIL or group:EMAIL; public access is refused."
  }
}

variable "browser_collection" {
  type        = bool
  description = "Lets web pages send events to CollectEvents with write keys (docs/collect.md). On: CollectEvents, and no other function, may be invoked by anyone (Cloud Run's public invoker binding), and it refuses every request without a write key (REQUIRE_WRITE_KEY); server callers then use server keys. Off: IAM (collect_events_invokers) alone decides who may call."
  default     = false
}

variable "write_keys_collection" {
  type        = string
  description = "Firestore collection, in the (default) database, of CollectEvents' write keys (WRITE_KEYS_COLLECTION), one document per key holding its hash; scripts/keys writes it."
  default     = "collect_write_keys"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.write_keys_collection)) && length(var.write_keys_collection) <= 1500
    error_message = "write_keys_collection must be a collection id of 1-1500 letters, digits, underscores and hyphens (no slashes)."
  }
}

variable "write_key_ttl" {
  type        = string
  description = "How long a CollectEvents instance trusts what it read of a write key (WRITE_KEY_TTL, a Go duration from 1s to 10m): a revoked key is refused everywhere within this time."
  default     = "30s"

  validation {
    condition     = can(regex("^([0-9]+m)?([0-9]+s)?$", var.write_key_ttl)) && var.write_key_ttl != ""
    error_message = "write_key_ttl must be a Go duration in minutes and seconds such as \"30s\" or \"2m\"."
  }
}

# --- StreamTweets and Cloud Scheduler ----------------------------------------------------------

variable "stream_schedule" {
  type        = string
  description = "Cron schedule of the Cloud Scheduler job that runs StreamTweets (each run holds the stream for stream_duration)."
  default     = "* * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.stream_schedule))) == 5
    error_message = "stream_schedule must be a five-field cron expression such as \"* * * * *\"."
  }
}

variable "scheduler_time_zone" {
  type        = string
  description = "Time zone the stream schedule is read in (a tz database name)."
  default     = "Etc/UTC"

  validation {
    # A tz database name: Area/Location (Etc/UTC, America/Argentina/Buenos_Aires, Etc/GMT+5) or UTC.
    condition     = can(regex("^(UTC|[A-Z][A-Za-z]*(/[A-Za-z0-9_+-]+)+)$", var.scheduler_time_zone))
    error_message = "scheduler_time_zone must be a tz database name such as Etc/UTC or Europe/Paris."
  }
}

variable "stream_duration" {
  type        = string
  description = "How long one StreamTweets run reads the stream once it holds the lease (STREAM_DURATION, whole seconds). With stream_lease_wait and 78 s for taking the lease, the rules sync, flush and release it must fit in Scheduler's 30-minute attempt deadline; the longer, the fewer hand-overs (each misses about one second of tweets without backfill)."
  default     = "1620s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.stream_duration)) && try(tonumber(trimsuffix(var.stream_duration, "s")) >= 1 && tonumber(trimsuffix(var.stream_duration, "s")) <= 1722, false)
    error_message = "stream_duration must be whole seconds from \"1s\" to \"1722s\" (a run must end within Cloud Scheduler's 1800 s attempt deadline)."
  }
}

variable "stream_lease_wait" {
  type        = string
  description = "How long a scheduled StreamTweets run waits for the holder to hand over the lease before it answers skipped (LEASE_WAIT, whole seconds); longer than the schedule's period, so that a run is always waiting at the hand-over. \"0s\" never waits (a gap of up to a period per hand-over)."
  default     = "90s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.stream_lease_wait)) && try(tonumber(trimsuffix(var.stream_lease_wait, "s")) <= 600, false)
    error_message = "stream_lease_wait must be whole seconds from \"0s\" to \"600s\"."
  }
}

variable "stream_backfill_minutes" {
  type        = number
  description = "Minutes X replays on every StreamTweets connection to cover the hand-over gap (STREAM_BACKFILL_MINUTES, X's backfill_minutes). Only some X access levels allow it; 0, the default, asks for none. Replayed tweets a run already had are published once; across runs the dedup views remove them."
  default     = 0

  validation {
    condition     = var.stream_backfill_minutes >= 0 && var.stream_backfill_minutes <= 5 && floor(var.stream_backfill_minutes) == var.stream_backfill_minutes
    error_message = "stream_backfill_minutes must be a whole number from 0 to 5 (X's limit)."
  }
}

variable "stream_lease_ttl" {
  type        = string
  description = "How long the stream lease stays held without renewal (LEASE_TTL, a Go duration)."
  default     = "30s"

  validation {
    condition     = can(regex("^[0-9]+(s|m)$", var.stream_lease_ttl))
    error_message = "stream_lease_ttl must be a Go duration in seconds or minutes such as \"30s\"."
  }
}

variable "stream_lease_doc" {
  type        = string
  description = "Firestore document of the stream lease (LEASE_DOC), collection/document."
  default     = "leases/x-stream"

  validation {
    condition     = can(regex("^[^/]+/[^/]+(/[^/]+/[^/]+)*$", var.stream_lease_doc))
    error_message = "stream_lease_doc must be a document path such as leases/x-stream."
  }
}

variable "stream_rules" {
  type = list(object({
    value = string
    tag   = optional(string, "")
  }))
  description = "Filtered-stream rules StreamTweets syncs X's rules to (X_STREAM_RULES); empty leaves the rules stored at X alone."
  default     = []

  validation {
    condition     = alltrue([for r in var.stream_rules : trimspace(r.value) != ""])
    error_message = "Every stream rule needs a value."
  }
}

variable "stream_params" {
  type        = string
  description = "Query string of the filtered-stream connection (X_STREAM_PARAMS): the fields and expansions the rows need."
  default     = "tweet.fields=created_at,author_id,lang,referenced_tweets,in_reply_to_user_id,entities,note_tweet&expansions=author_id&user.fields=username"

  validation {
    # name=value pairs joined by &, with no leading ? and no spaces (the function adds the ?).
    condition     = var.stream_params == "" || can(regex("^[A-Za-z_.]+=[^\\s&?]*(&[A-Za-z_.]+=[^\\s&?]*)*$", var.stream_params))
    error_message = "stream_params must be a query string without the leading ?, such as tweet.fields=created_at&expansions=author_id."
  }
}

variable "stream_lang_filter" {
  type        = list(string)
  description = "Languages StreamTweets keeps (LANG_FILTER); empty keeps every language."
  default     = []

  validation {
    # X's lang values are BCP 47 codes such as en, ja, und or zh-cn.
    condition     = alltrue([for l in var.stream_lang_filter : can(regex("^[a-z]{2,3}(-[a-z0-9]+)?$", l))])
    error_message = "stream_lang_filter must list lower-case language codes such as en, ja or und."
  }
}

variable "x_bearer_token_secret_id" {
  type        = string
  description = "Secret Manager secret holding the X API bearer token (its value is added out of band)."
  default     = "x-bearer-token"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.x_bearer_token_secret_id))
    error_message = "x_bearer_token_secret_id must be a Secret Manager secret id: 1 to 255 letters, digits, - or _."
  }
}

# --- Backfills and Cloud Tasks -----------------------------------------------------------------

variable "backfill_queue" {
  type        = string
  description = "Cloud Tasks queue of backfill tasks. A deleted queue's name cannot be reused for about 7 days."
  default     = "backfill"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,100}$", var.backfill_queue))
    error_message = "backfill_queue must be 1-100 letters, digits or hyphens."
  }
}

variable "backfill_queues" {
  type        = number
  description = "Cloud Tasks queues a backfill job's tasks are spread over (task i in queue i mod n): a job runs at up to n x queue_max_dispatches_per_second tasks/s."
  default     = 1

  # At most 20: every queue's rate lands on the job's counter documents, and backfill_counter_shards
  # (at most 10000) must cover 20 x 500 dispatches/s.
  validation {
    condition     = var.backfill_queues >= 1 && var.backfill_queues <= 20 && floor(var.backfill_queues) == var.backfill_queues
    error_message = "backfill_queues must be an integer from 1 to 20."
  }
}

variable "backfill_control_queue" {
  type        = string
  description = "Cloud Tasks queue of the Backfill function's own control tasks (fan-out chain links, :retry walk steps; BACKFILL_CONTROL_QUEUE): apart from the worker queues, retried without limit. A deleted queue's name cannot be reused for about 7 days."
  default     = "backfill-control"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,100}$", var.backfill_control_queue))
    error_message = "backfill_control_queue must be 1-100 letters, digits or hyphens."
  }
}

variable "backfill_control_max_dispatches_per_second" {
  type        = number
  description = "Control tasks the control queue dispatches per second: each link creates ENQUEUE_SLICE worker tasks, so 10 links/s feed 10 x backfill_enqueue_slice tasks/s."
  default     = 10

  validation {
    condition     = var.backfill_control_max_dispatches_per_second > 0 && var.backfill_control_max_dispatches_per_second <= 500
    error_message = "backfill_control_max_dispatches_per_second must be greater than 0 and at most 500."
  }
}

variable "backfill_control_max_concurrent_dispatches" {
  type        = number
  description = "Control tasks in flight at once: at least 2 x backfill_queues (two fan-out chains per queue); 40 covers the most queues (20)."
  default     = 40

  validation {
    condition     = var.backfill_control_max_concurrent_dispatches >= 2 && var.backfill_control_max_concurrent_dispatches <= 5000 && floor(var.backfill_control_max_concurrent_dispatches) == var.backfill_control_max_concurrent_dispatches
    error_message = "backfill_control_max_concurrent_dispatches must be an integer from 2 to 5000."
  }
}

variable "backfill_task_seconds" {
  type        = number
  description = "Expected seconds one backfill task takes (mostly its source API call): RunBackfillTask's max_instances x concurrency must cover backfill_queues x queue_max_dispatches_per_second x this."
  default     = 2

  validation {
    condition     = var.backfill_task_seconds > 0 && var.backfill_task_seconds <= 600
    error_message = "backfill_task_seconds must be greater than 0 and at most 600."
  }
}

variable "queue_max_dispatches_per_second" {
  type        = number
  description = "Most backfill tasks Cloud Tasks starts per second; keep at or below backfill_counter_shards."
  default     = 50

  validation {
    condition     = var.queue_max_dispatches_per_second > 0 && var.queue_max_dispatches_per_second <= 500
    error_message = "queue_max_dispatches_per_second must be greater than 0 and at most 500."
  }
}

variable "queue_max_concurrent_dispatches" {
  type        = number
  description = "Most backfill tasks running at once."
  default     = 50

  validation {
    condition     = var.queue_max_concurrent_dispatches > 0 && var.queue_max_concurrent_dispatches <= 5000 && floor(var.queue_max_concurrent_dispatches) == var.queue_max_concurrent_dispatches
    error_message = "queue_max_concurrent_dispatches must be an integer from 1 to 5000."
  }
}

variable "queue_max_attempts" {
  type        = number
  description = "Attempts per backfill task before Cloud Tasks gives up (also QUEUE_MAX_ATTEMPTS, so the worker knows its last attempt)."
  default     = 8

  validation {
    condition     = var.queue_max_attempts >= 1 && var.queue_max_attempts <= 100 && floor(var.queue_max_attempts) == var.queue_max_attempts
    error_message = "queue_max_attempts must be an integer from 1 to 100 (unlimited attempts would leave a failed shard running forever)."
  }
}

variable "queue_max_retry_duration" {
  type        = string
  description = "Time limit for retrying one backfill task, from its first attempt (\"0s\" for none)."
  default     = "86400s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.queue_max_retry_duration))
    error_message = "queue_max_retry_duration must be whole seconds such as \"86400s\"."
  }
}

variable "queue_min_backoff" {
  type        = string
  description = "Least delay before a failed backfill task is retried."
  default     = "10s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.queue_min_backoff))
    error_message = "queue_min_backoff must be seconds such as \"10s\"."
  }
}

variable "queue_max_backoff" {
  type        = string
  description = "Longest delay before a failed backfill task is retried."
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.queue_max_backoff))
    error_message = "queue_max_backoff must be seconds such as \"600s\"."
  }
}

variable "queue_max_doublings" {
  type        = number
  description = "Times the retry delay of a backfill task doubles before it grows linearly."
  default     = 5

  validation {
    condition     = var.queue_max_doublings >= 0 && var.queue_max_doublings <= 16
    error_message = "queue_max_doublings must be from 0 to 16."
  }
}

variable "backfill_invokers" {
  type        = list(string)
  description = "Principals allowed to start and read backfills (call Backfill), such as user:me@example.com. Public access is refused."
  default     = []

  validation {
    # Only kind:identity members pass, which leaves out the public principals.
    condition     = alltrue([for m in var.backfill_invokers : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):.+", m))])
    error_message = "backfill_invokers must be IAM members such as user:EMAIL or group:EMAIL; public access is refused."
  }
}

variable "backfill_max_tasks" {
  type        = number
  description = "Most tasks one backfill may plan (MAX_TASKS): 10,000,000 take 5.6 hours to dispatch on one queue at 500/s, 1.4 on four (backfill_queues)."
  default     = 10000000

  validation {
    condition     = var.backfill_max_tasks >= 1 && var.backfill_max_tasks <= 100000000
    error_message = "backfill_max_tasks must be from 1 to 100000000."
  }
}

variable "backfill_enqueue_slice" {
  type        = number
  description = "Worker tasks one request or one expansion task creates (ENQUEUE_SLICE); larger backfills fan out through expansion tasks."
  default     = 1000

  validation {
    condition     = var.backfill_enqueue_slice >= 2 && var.backfill_enqueue_slice <= 100000
    error_message = "backfill_enqueue_slice must be from 2 to 100000."
  }
}

variable "backfill_enqueue_parallelism" {
  type        = number
  description = "Concurrent CreateTask calls while enqueueing (ENQUEUE_PARALLELISM)."
  default     = 32

  validation {
    condition     = var.backfill_enqueue_parallelism >= 1 && var.backfill_enqueue_parallelism <= 1000
    error_message = "backfill_enqueue_parallelism must be from 1 to 1000."
  }
}

variable "backfill_enqueue_rate" {
  type        = number
  description = "CreateTask calls per second an instance of Backfill makes while enqueueing (ENQUEUE_RATE; 0: no limit). A queue dispatches at most 500 tasks/s, so creating much faster only grows its backlog."
  default     = 2500

  validation {
    condition     = var.backfill_enqueue_rate >= 0 && var.backfill_enqueue_rate <= 100000 && floor(var.backfill_enqueue_rate) == var.backfill_enqueue_rate
    error_message = "backfill_enqueue_rate must be a whole number from 0 (no limit) to 100000."
  }
}

variable "backfill_counter_shards" {
  type        = number
  description = "Firestore counter documents per backfill job (COUNTER_SHARDS); at least queue_max_dispatches_per_second."
  default     = 500

  validation {
    condition     = var.backfill_counter_shards >= 1 && var.backfill_counter_shards <= 10000
    error_message = "backfill_counter_shards must be from 1 to 10000."
  }
}

variable "backfill_http_allowed_hosts" {
  type        = list(string)
  description = "Hosts the HTTP-JSON backfill source may fetch from (HTTP_JSON_ALLOWED_HOSTS); empty allows none."
  default     = []

  validation {
    # Exact hosts, *.domain (its subdomains) or * (any public host); no scheme, port or path.
    condition     = alltrue([for h in var.backfill_http_allowed_hosts : can(regex("^(\\*|(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$", h))])
    error_message = "backfill_http_allowed_hosts must list host names (api.example.com), *.example.com or *, with no scheme, port or path."
  }
}

variable "backfill_api_timeout" {
  type        = string
  description = "Timeout of one source API call made by RunBackfillTask (API_TIMEOUT, a Go duration)."
  default     = "30s"

  validation {
    condition     = can(regex("^[0-9]+(s|m)$", var.backfill_api_timeout))
    error_message = "backfill_api_timeout must be a Go duration in seconds or minutes such as \"60s\"."
  }
}

variable "youtube_secret_ids" {
  type = object({
    client_id     = optional(string, "youtube-client-id")
    client_secret = optional(string, "youtube-client-secret")
    refresh_token = optional(string, "youtube-refresh-token")
  })
  description = "Secret Manager secrets holding the YouTube OAuth client id, client secret and refresh token (values added out of band)."
  default     = {}

  validation {
    condition     = alltrue([for id in values(var.youtube_secret_ids) : can(regex("^[A-Za-z0-9_-]{1,255}$", id))])
    error_message = "youtube_secret_ids must name Secret Manager secret ids: 1 to 255 letters, digits, - or _."
  }
}

# --- Rankings ----------------------------------------------------------------------------------

variable "rankings_subscription" {
  type        = string
  description = "Filtered push subscription that delivers the events the rankings use to UpdateRankings."
  default     = "events-rankings"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.rankings_subscription)) && !startswith(var.rankings_subscription, "goog")
    error_message = "rankings_subscription must be a Pub/Sub subscription id: 3-255 characters, starting with a letter."
  }
}

variable "rankings_shards" {
  type        = number
  description = "Documents each ranking bucket's counters are spread over (RANKINGS_SHARDS): each bucket document sees about commits per second / shards writes per second."
  default     = 16

  validation {
    condition     = var.rankings_shards >= 1 && var.rankings_shards <= 500 && floor(var.rankings_shards) == var.rankings_shards
    error_message = "rankings_shards must be a whole number from 1 to 500."
  }
}

variable "rankings_layout" {
  type        = string
  description = "How the rankings store keeps each event counting once (RANKINGS_LAYOUT; shared/rankings/log.go). \"markers\": a marker document per event, created with a must-not-exist precondition in the commit that adds its counts. \"log\": a group's events in a few records (rankings_log), duplicates reconciled after the commit under a ledger (rankings_dups); UpdateRankings then takes 1,000 concurrent deliveries an instance instead of 250. A switch from markers to log is safe mid-stream: the log layout also reads the markers until 8 days (their retention) after its first start, recorded in rankings_meta/log. A switch back from log to markers is not: markers do not see the log's records, so redeliveries of events already counted count again."
  default     = "log"

  validation {
    condition     = contains(["markers", "log"], var.rankings_layout)
    error_message = "rankings_layout must be \"markers\" or \"log\"."
  }
}

variable "rankings_database" {
  type        = string
  description = "Firestore database of the rankings (RANKINGS_DATABASE): UpdateRankings writes it, ServeRankings reads only it. Its own database so that ServeRankings' grant can be conditioned on it (Firestore IAM conditions name databases, not collections)."
  default     = "rankings"

  # The database id rule of projects.databases.create (databaseId): 4-63 characters of a-z,
  # 0-9 and -, a letter first, a letter or digit last
  # (https://firebase.google.com/docs/firestore/reference/rest/v1/projects.databases/create).
  # "(default)" is refused here: the default database holds what ServeRankings must not read.
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.rankings_database))
    error_message = "rankings_database must be a named Firestore database id: 4-63 characters of a-z, 0-9 and -, starting with a letter and ending with a letter or digit (not (default))."
  }
}

variable "recent_views_key_secret_id" {
  type        = string
  description = "Secret Manager secret holding the key recent-views tokens are signed with (at least 32 bytes; its value is added out of band). ServeRankings reads it; so may recent_views_token_minters."
  default     = "recent-views-token-key"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.recent_views_key_secret_id))
    error_message = "recent_views_key_secret_id must be a Secret Manager secret id: 1 to 255 letters, digits, - or _."
  }
}

variable "recent_views_token_minters" {
  type        = list(string)
  description = "Principals that mint recent-views tokens for their users (the app's backend), given secretAccessor on the key's secret alone, such as serviceAccount:app@p.iam.gserviceaccount.com. Whoever holds the key can read any user's recent views."
  default     = []

  validation {
    condition     = alltrue([for m in var.recent_views_token_minters : can(regex("^(user|serviceAccount|group|principal|principalSet):.+", m))])
    error_message = "recent_views_token_minters must be IAM members such as serviceAccount:EMAIL; public access is refused."
  }
}

variable "rankings_cache_ttl" {
  type        = string
  description = "How long a ServeRankings instance reuses a computed ranking, and the max-age of its answers (RANKINGS_CACHE_TTL, a Go duration up to 1m)."
  default     = "5s"

  validation {
    condition     = can(regex("^([0-9]|[1-5][0-9])s$|^60s$|^1m$", var.rankings_cache_ttl))
    error_message = "rankings_cache_ttl must be a duration in seconds from 0s to 60s, such as \"5s\"."
  }
}

variable "rankings_invokers" {
  type        = list(string)
  description = "Principals allowed to call ServeRankings (the deck, dashboards), such as group:team@example.com. Public access is refused."
  default     = []

  validation {
    condition     = alltrue([for m in var.rankings_invokers : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):.+", m))])
    error_message = "rankings_invokers must be IAM members such as serviceAccount:EMAIL or group:EMAIL; public access is refused."
  }
}

variable "deck_default_keyword" {
  type        = string
  description = "The deck's first column for a new visitor (DECK_DEFAULT_KEYWORD): one word or one #hashtag, at most 100 bytes."
  default     = "pipeline"

  validation {
    condition     = can(regex("^#?[^\\s#]+$", var.deck_default_keyword)) && length(var.deck_default_keyword) <= 100
    error_message = "deck_default_keyword must be one word or one #hashtag (no spaces) of at most 100 bytes."
  }
}

variable "deck_window" {
  type        = string
  description = "The rankings' window the deck shows (DECK_WINDOW): 15m, 1h or 1d."
  default     = "1h"

  validation {
    condition     = contains(["15m", "1h", "1d"], var.deck_window)
    error_message = "deck_window must be 15m, 1h or 1d."
  }
}

variable "deck_poll_interval" {
  type        = string
  description = "How often an open deck asks ServeRankings for new tweets and rankings (DECK_POLL_INTERVAL, a Go duration from 1s to 10m; each poll is a short, cacheable request)."
  default     = "5s"

  validation {
    condition     = can(regex("^(([1-9]|[1-9][0-9]|[1-5][0-9][0-9]|600)s|([1-9]|10)m)$", var.deck_poll_interval))
    error_message = "deck_poll_interval must be a duration from 1s to 600s (or 1m to 10m), such as \"5s\"."
  }
}

variable "deck_collect_key" {
  type        = string
  description = "The deck's write key (DECK_COLLECT_KEY), made with scripts/keys for the serving function's origin: with browser_collection on, the deck loads collect.js and sends its own searches and views. Publishable (it sits in the page); empty: the deck sends nothing."
  default     = ""

  validation {
    condition     = var.deck_collect_key == "" || can(regex("^wk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$", var.deck_collect_key))
    error_message = "deck_collect_key must be empty or a write key printed by scripts/keys (wk_...)."
  }
}

# --- Backfill: deadlines, the sweep, spec-named secrets ------------------------------------------

variable "backfill_dispatch_deadline" {
  type        = string
  description = "How long Cloud Tasks waits for RunBackfillTask's answer to one task (DISPATCH_DEADLINE, seconds): at most the worker function's timeout."
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.backfill_dispatch_deadline)) && try(tonumber(trimsuffix(var.backfill_dispatch_deadline, "s")) >= 15 && tonumber(trimsuffix(var.backfill_dispatch_deadline, "s")) <= 1800, false)
    error_message = "backfill_dispatch_deadline must be whole seconds from \"15s\" to \"1800s\" (Cloud Tasks' limits)."
  }
}

variable "backfill_work_timeout" {
  type        = string
  description = "How long RunBackfillTask works on one task before it stops and records the outcome (WORK_TIMEOUT, seconds): at least 30 s under backfill_dispatch_deadline."
  default     = "540s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.backfill_work_timeout)) && try(tonumber(trimsuffix(var.backfill_work_timeout, "s")) >= 1, false)
    error_message = "backfill_work_timeout must be whole seconds, at least \"1s\", such as \"540s\"."
  }
}

variable "backfill_sweep_schedule" {
  type        = string
  description = "Cron schedule (in scheduler_time_zone) of the sweep that re-enqueues or fails backfill tasks lost without an outcome (POST /backfills:sweep)."
  default     = "*/10 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.backfill_sweep_schedule))) == 5
    error_message = "backfill_sweep_schedule must be a five-field cron expression such as \"*/10 * * * *\"."
  }
}

variable "backfill_sweep_after" {
  type        = string
  description = "How long a backfill job must have recorded no outcome before a sweep looks for its lost tasks (SWEEP_AFTER, seconds)."
  default     = "900s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.backfill_sweep_after)) && try(tonumber(trimsuffix(var.backfill_sweep_after, "s")) <= 86400, false)
    error_message = "backfill_sweep_after must be whole seconds up to \"86400s\", such as \"900s\"."
  }
}

variable "backfill_sweep_max_attempts" {
  type        = number
  description = "How many new tasks sweeps create for a backfill task lost without an outcome before recording it failed (SWEEP_MAX_ATTEMPTS)."
  default     = 3

  validation {
    condition     = var.backfill_sweep_max_attempts >= 0 && var.backfill_sweep_max_attempts <= 100 && floor(var.backfill_sweep_max_attempts) == var.backfill_sweep_max_attempts
    error_message = "backfill_sweep_max_attempts must be a whole number from 0 to 100."
  }
}

variable "backfill_sweep_budget" {
  type        = number
  description = "How many unfinished tasks of one backfill job one sweep checks (SWEEP_BUDGET)."
  default     = 500

  validation {
    condition     = var.backfill_sweep_budget >= 1 && var.backfill_sweep_budget <= 100000 && floor(var.backfill_sweep_budget) == var.backfill_sweep_budget
    error_message = "backfill_sweep_budget must be a whole number from 1 to 100000."
  }
}

variable "backfill_spec_secret_ids" {
  type        = list(string)
  description = "Ids of the Secret Manager secrets (in this project) that http_json backfill specs may name; RunBackfillTask may read these and no others. The secrets are created and filled out of band."
  default     = []

  validation {
    condition     = alltrue([for s in var.backfill_spec_secret_ids : can(regex("^[A-Za-z0-9_-]{1,255}$", s))]) && length(distinct(var.backfill_spec_secret_ids)) == length(var.backfill_spec_secret_ids)
    error_message = "backfill_spec_secret_ids must be distinct secret ids of letters, digits, - and _ (at most 255 characters each)."
  }
}

# --- Monitoring: alert thresholds and who is notified (monitoring.tf) ---------------------------

variable "notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels every alert policy notifies, as projects/PROJECT/notificationChannels/ID (create them in the console or with google_monitoring_notification_channel). Empty: the alerts open incidents in the console and notify no one."
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))]) && length(distinct(var.notification_channels)) == length(var.notification_channels)
    error_message = "notification_channels must be distinct channel names of the form projects/PROJECT/notificationChannels/ID."
  }
}

variable "alert_dead_letters_per_5m" {
  type        = number
  description = "Alert when LoadEvents dead-letters more than this many messages in 5 minutes."
  default     = 10

  validation {
    condition     = var.alert_dead_letters_per_5m >= 0 && var.alert_dead_letters_per_5m <= 1000000 && floor(var.alert_dead_letters_per_5m) == var.alert_dead_letters_per_5m
    error_message = "alert_dead_letters_per_5m must be a whole number from 0 (any dead letter) to 1000000."
  }
}

variable "alert_oldest_unacked_seconds" {
  type        = number
  description = "Alert when the oldest unacknowledged message of the loader's or the rankings' subscription is older than this many seconds for 5 minutes."
  default     = 600

  validation {
    # At least a minute: the metric is sampled every 60 s; at most the 7-day retention.
    condition     = var.alert_oldest_unacked_seconds >= 60 && var.alert_oldest_unacked_seconds <= 604800 && floor(var.alert_oldest_unacked_seconds) == var.alert_oldest_unacked_seconds
    error_message = "alert_oldest_unacked_seconds must be whole seconds from 60 to 604800 (7 days)."
  }
}

variable "alert_stream_not_read_minutes" {
  type        = number
  description = "Alert when no StreamTweets run read the stream or found another run reading it for this many minutes, or a run ended without reading; 0 turns the alert off (when the X stream is not used)."
  default     = 5

  validation {
    # A metric-absence condition's window is at least 2 and at most 24.5 hours' worth of minutes
    # (https://cloud.google.com/monitoring/alerts/types-of-conditions); whole minutes.
    condition     = var.alert_stream_not_read_minutes == 0 || (var.alert_stream_not_read_minutes >= 2 && var.alert_stream_not_read_minutes <= 1440 && floor(var.alert_stream_not_read_minutes) == var.alert_stream_not_read_minutes)
    error_message = "alert_stream_not_read_minutes must be 0 (off) or whole minutes from 2 to 1440."
  }
}

variable "alert_task_delay_seconds" {
  type        = number
  description = "Alert when the 99th percentile of a backfill worker queue's, or of the control queue's, task attempt delay (how late a task is dispatched after its scheduled time: the queue's backlog age) exceeds this many seconds over 5 minutes."
  default     = 900

  validation {
    condition     = var.alert_task_delay_seconds >= 1 && var.alert_task_delay_seconds <= 86400 && floor(var.alert_task_delay_seconds) == var.alert_task_delay_seconds
    error_message = "alert_task_delay_seconds must be whole seconds from 1 to 86400."
  }
}

variable "alert_5xx_ratio" {
  type        = number
  description = "Alert when more than this fraction of a function's requests over 5 minutes are answered 5xx (0.05 is 5%)."
  default     = 0.05

  validation {
    condition     = var.alert_5xx_ratio > 0 && var.alert_5xx_ratio <= 1
    error_message = "alert_5xx_ratio must be a fraction above 0 and at most 1."
  }
}

variable "alert_write_errors_per_5m" {
  type        = number
  description = "Alert when Firestore commits fail, or LoadEvents' BigQuery appends or UpdateRankings' commits fail, more than this many times in 5 minutes."
  default     = 5

  validation {
    condition     = var.alert_write_errors_per_5m >= 0 && var.alert_write_errors_per_5m <= 1000000 && floor(var.alert_write_errors_per_5m) == var.alert_write_errors_per_5m
    error_message = "alert_write_errors_per_5m must be a whole number from 0 (any error) to 1000000."
  }
}

# --- The deck's sign-in (deck.tf, docs/sign-in.md) ----------------------------------------------

variable "deck_sign_in" {
  type        = bool
  description = "Open the deck to browsers with Identity Platform sign-in: every visitor may invoke ServeRankings, which then requires an Identity Platform ID token on every data request (DECK_AUTH=firebase). Off, only rankings_invokers reach it."
  default     = false
}

variable "deck_database" {
  type        = string
  description = "Firestore database of the deck's per-user column sets (DECK_DATABASE); ServeRankings' write grant is conditioned on it alone."
  default     = "deck"

  # The database id rule, as rankings_database's.
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.deck_database))
    error_message = "deck_database must be a named Firestore database id (4-63 characters of a-z, 0-9 and -, a letter first, a letter or digit last)."
  }
}

variable "deck_authorized_domains" {
  type        = list(string)
  description = "Domains besides the deck's run.app host and localhost that Identity Platform may redirect sign-ins to (a custom domain in front of the deck)."
  default     = []

  validation {
    condition     = alltrue([for d in var.deck_authorized_domains : can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", d))])
    error_message = "deck_authorized_domains must be host names such as deck.example.com (no scheme, port or path)."
  }
}
