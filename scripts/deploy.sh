#!/usr/bin/env bash
# Deploys the functions with gcloud, for projects that manage everything else with Terraform but
# not the functions (terraform apply -var deploy_functions=false): the functions with the
# settings of terraform/functions.tf, their invoker bindings, the loader's push subscription and
# the Scheduler job that runs StreamTweets. The service accounts, topics (with Backfill's
# publisher role on the job events topic), queue, dataset, Firestore and secrets must exist
# (Terraform creates them).
#
# The settings below are the ones Terraform uses; terraform/terraform_test.go runs this script
# with --dry-run and compares what it prints with terraform/*.tf.
set -euo pipefail

# Settings a caller may override through the environment, with Terraform's defaults
# (terraform/variables.tf); the usage text lists them from here.
DEFAULTS=(
  "EVENTS_TOPIC=events"
  "DEAD_LETTER_TOPIC=events-dead-letter"
  "JOB_EVENTS_TOPIC=backfill-job-events"
  "LOADER_SUBSCRIPTION=events-loader"
  "LOADER_MAX_DELIVERY_ATTEMPTS=10"
  "LOADER_MIN_BACKOFF=10s"
  "LOADER_MAX_BACKOFF=600s"
  "MESSAGE_RETENTION_DURATION=604800s"
  "BIGQUERY_DATASET=events"
  "BACKFILL_QUEUE_ID=backfill"
  "BACKFILL_QUEUES=1"
  "BACKFILL_CONTROL_QUEUE_ID=backfill-control"
  "QUEUE_MAX_ATTEMPTS=8"
  "STREAM_SCHEDULE=* * * * *"
  "SCHEDULER_TIME_ZONE=Etc/UTC"
  "X_BEARER_TOKEN_SECRET_ID=x-bearer-token"
  "X_STREAM_RULES="
  "X_STREAM_PARAMS=tweet.fields=created_at,author_id,lang,referenced_tweets,in_reply_to_user_id,entities,note_tweet&expansions=author_id&user.fields=username"
  "LANG_FILTER="
  "STREAM_DURATION=1620s"
  "LEASE_TTL=30s"
  "LEASE_DOC=leases/x-stream"
  "LEASE_WAIT=90s"
  "STREAM_BACKFILL_MINUTES=0"
  "DEDUP_COLLECTION=collect_events_seen"
  "DEDUP_TTL=24h"
  "MAX_BODY_BYTES=5242880"
  "MAX_EVENTS=1000"
  "WRITE_KEYS_COLLECTION=collect_write_keys"
  "WRITE_KEY_TTL=30s"
  "MAX_TASKS=10000000"
  "HTTP_JSON_ALLOWED_HOSTS="
  "ENQUEUE_SLICE=1000"
  "ENQUEUE_PARALLELISM=32"
  "ENQUEUE_RATE=2500"
  "COUNTER_SHARDS=500"
  "API_TIMEOUT=30s"
  "DISPATCH_DEADLINE=600s"
  "WORK_TIMEOUT=540s"
  "SWEEP_AFTER=900s"
  "SWEEP_MAX_ATTEMPTS=3"
  "SWEEP_BUDGET=500"
  "BACKFILL_SWEEP_SCHEDULE=*/10 * * * *"
  "RANKINGS_SUBSCRIPTION=events-rankings"
  "RANKINGS_SHARDS=16"
  "RANKINGS_LAYOUT=log"
  "RANKINGS_CACHE_TTL=5s"
  "RANKINGS_DATABASE=rankings"
  "RECENT_VIEWS_KEY_SECRET_ID=recent-views-token-key"
  "DECK_DEFAULT_KEYWORD=pipeline"
  "DECK_WINDOW=1h"
  "DECK_POLL_INTERVAL=5s"
  "DECK_COLLECT_KEY="
  "DECK_SIGN_IN=false"
  "DECK_DATABASE=deck"
  "DECK_FIREBASE_API_KEY="
  "COLLECT_EVENTS_INVOKERS="
  "BACKFILL_INVOKERS="
  "RANKINGS_INVOKERS="
)

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh --project PROJECT [--region REGION] [--only NAME] [--project-number N]
                         [--collect-events-invoker MEMBER]... [--backfill-invoker MEMBER]...
                         [--rankings-invoker MEMBER]... [--browser-collection] [--dry-run]

Deploys the pipelinekit functions (2nd gen, Go) from the repository root with gcloud, then the
invoker bindings, the loader's and the rankings' Pub/Sub push subscriptions and the StreamTweets
and backfill sweep Scheduler jobs.

  --project PROJECT                Google Cloud project id (required)
  --region REGION                  region of the functions and the Scheduler job (default us-central1)
  --only NAME                      deploy only this function (its name or entry point, e.g. load-events)
  --project-number N               the project's number (default: asked of gcloud; a placeholder with --dry-run)
  --collect-events-invoker MEMBER  may call CollectEvents, e.g. serviceAccount:app@P.iam.gserviceaccount.com
                                   (repeatable; Terraform's collect_events_invokers)
  --backfill-invoker MEMBER        may call Backfill, e.g. user:me@example.com (repeatable; backfill_invokers)
  --rankings-invoker MEMBER        may call ServeRankings (the rankings API and the deck), e.g.
                                   group:analysts@example.com (repeatable; rankings_invokers)
  --browser-collection             let web pages send events with write keys (docs/collect.md): CollectEvents,
                                   and only it, may be invoked by anyone, and requires a write key on every
                                   request (Terraform's browser_collection)
  --dry-run                        print the commands, one argument a line, instead of running them
  -h, --help                       show this text

Environment variables with these names override the defaults (Terraform's), as the Terraform
variables do; the *_INVOKERS ones are comma-separated IAM members:
EOF
  local d
  for d in "${DEFAULTS[@]}"; do
    printf '  %-30s %s\n' "${d%%=*}" "${d#*=}"
  done
}

for d in "${DEFAULTS[@]}"; do
  name=${d%%=*}
  # Unset takes the default; set (even empty) is the caller's.
  if [[ -z ${!name+x} ]]; then printf -v "$name" '%s' "${d#*=}"; fi
done

RUNTIME=go126

# terraform/rankings.tf local.update_rankings_concurrency: UpdateRankings' concurrent deliveries
# by rankings layout (the log layout groups up to 1,000 deliveries into one commit).
case $RANKINGS_LAYOUT in
  markers) update_rankings_concurrency=250 ;;
  log) update_rankings_concurrency=1000 ;;
  *) echo "deploy.sh: RANKINGS_LAYOUT must be markers or log" >&2; exit 2 ;;
esac

# One line per function: entry point, name, service account id, memory, CPU, timeout (s),
# concurrency, max instances, ingress. terraform/functions.tf locals.functions has the same.
FUNCTIONS=(
  "StreamTweets    stream-tweets     fn-stream-tweets     512Mi 1 1800 1  3  internal-only"
  "CollectEvents   collect-events    fn-collect-events    2Gi   1 60  80 20 all"
  "LoadEvents      load-events       fn-load-events       512Mi 1 60  80 20 internal-only"
  "Backfill        backfill          fn-backfill          512Mi 1 540 10 5  all"
  "RunBackfillTask run-backfill-task fn-run-backfill-task 512Mi 1 600 10 20 internal-only"
  "UpdateRankings  update-rankings   fn-update-rankings   512Mi 1 60  $update_rankings_concurrency 20 internal-only"
  "ServeRankings   serve-rankings    fn-serve-rankings    512Mi 1 30  250 10 all"
)

# terraform/rankings.tf local.rankings_filter: only the kinds the rankings use.
RANKINGS_FILTER='attributes.kind = "tweet" OR attributes.kind = "retweet" OR attributes.kind = "reply" OR attributes.kind = "quote" OR attributes.kind = "delete" OR attributes.kind = "search" OR attributes.kind = "detail_view"'

project="" region=us-central1 only="" project_number="" dry_run=false browser_collection=false
collect_invokers=() backfill_invokers=() rankings_invokers=()
if [[ -n $COLLECT_EVENTS_INVOKERS ]]; then IFS=, read -r -a collect_invokers <<<"$COLLECT_EVENTS_INVOKERS"; fi
if [[ -n $BACKFILL_INVOKERS ]]; then IFS=, read -r -a backfill_invokers <<<"$BACKFILL_INVOKERS"; fi
if [[ -n $RANKINGS_INVOKERS ]]; then IFS=, read -r -a rankings_invokers <<<"$RANKINGS_INVOKERS"; fi
while (($#)); do
  case $1 in
    --project) project=${2:?--project needs a value}; shift 2 ;;
    --project=*) project=${1#*=}; shift ;;
    --region) region=${2:?--region needs a value}; shift 2 ;;
    --region=*) region=${1#*=}; shift ;;
    --only) only=${2:?--only needs a value}; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --project-number) project_number=${2:?--project-number needs a value}; shift 2 ;;
    --project-number=*) project_number=${1#*=}; shift ;;
    --collect-events-invoker) collect_invokers+=("${2:?--collect-events-invoker needs a member}"); shift 2 ;;
    --collect-events-invoker=*) collect_invokers+=("${1#*=}"); shift ;;
    --backfill-invoker) backfill_invokers+=("${2:?--backfill-invoker needs a member}"); shift 2 ;;
    --backfill-invoker=*) backfill_invokers+=("${1#*=}"); shift ;;
    --rankings-invoker) rankings_invokers+=("${2:?--rankings-invoker needs a member}"); shift 2 ;;
    --rankings-invoker=*) rankings_invokers+=("${1#*=}"); shift ;;
    --browser-collection) browser_collection=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "deploy.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ $DECK_SIGN_IN != true && $DECK_SIGN_IN != false ]]; then
  echo "deploy.sh: DECK_SIGN_IN must be true or false" >&2
  exit 2
fi
if [[ $DECK_SIGN_IN == true && -z $DECK_FIREBASE_API_KEY ]]; then
  echo "deploy.sh: DECK_SIGN_IN=true needs DECK_FIREBASE_API_KEY (terraform output, or Identity Platform > Application setup details)" >&2
  exit 2
fi
if [[ -z $project ]]; then
  echo "deploy.sh: --project is required" >&2
  usage >&2
  exit 2
fi
# Terraform's rule for the invoker lists: only kind:identity members, so never a public principal.
for m in ${collect_invokers[@]+"${collect_invokers[@]}"} ${backfill_invokers[@]+"${backfill_invokers[@]}"} ${rankings_invokers[@]+"${rankings_invokers[@]}"}; do
  if [[ ! $m =~ ^(user|serviceAccount|group|domain|principal|principalSet):.+ ]]; then
    echo "deploy.sh: invoker $m is not an IAM member such as user:EMAIL or serviceAccount:EMAIL; public access is refused" >&2
    exit 2
  fi
done

# gcloud uploads --source=. from here; .gcloudignore decides what goes.
cd "$(dirname "$0")/.."

if [[ -z $project_number ]]; then
  if $dry_run; then
    project_number=PROJECT_NUMBER
  else
    project_number=$(gcloud projects describe "$project" --format='value(projectNumber)')
  fi
fi

sa() { echo "$1@$project.iam.gserviceaccount.com"; }
# The user: members of the backfill invokers, comma-separated: who sees the deck's backfills panel.
deck_backfill_admins() {
  local m out=()
  for m in ${backfill_invokers[@]+"${backfill_invokers[@]}"}; do
    if [[ $m == user:* ]]; then out+=("${m#user:}"); fi
  done
  local IFS=,
  echo "${out[*]}"
}
secret() { echo "projects/$project/secrets/$1/versions/latest"; }
# The deterministic run.app URL, known before the function exists (see terraform/functions.tf).
url() { echo "https://$1-$project_number.$region.run.app"; }

# env ENTRY_POINT prints the function's environment, one KEY=VALUE a line: the variables its
# LoadConfig reads, as terraform/functions.tf locals.function_env sets them.
env_of() {
  case $1 in
    StreamTweets)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      echo "EVENTS_TOPIC=$EVENTS_TOPIC"
      echo "X_BEARER_TOKEN_SECRET=$(secret "$X_BEARER_TOKEN_SECRET_ID")"
      echo "X_STREAM_RULES=$X_STREAM_RULES"
      echo "X_STREAM_PARAMS=$X_STREAM_PARAMS"
      echo "LANG_FILTER=$LANG_FILTER"
      echo "STREAM_DURATION=$STREAM_DURATION"
      echo "LEASE_TTL=$LEASE_TTL"
      echo "LEASE_DOC=$LEASE_DOC"
      echo "LEASE_WAIT=$LEASE_WAIT"
      echo "STREAM_BACKFILL_MINUTES=$STREAM_BACKFILL_MINUTES"
      ;;
    CollectEvents)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      echo "EVENTS_TOPIC=$EVENTS_TOPIC"
      echo "DEDUP_COLLECTION=$DEDUP_COLLECTION"
      echo "DEDUP_TTL=$DEDUP_TTL"
      echo "MAX_BODY_BYTES=$MAX_BODY_BYTES"
      echo "MAX_EVENTS=$MAX_EVENTS"
      echo "WRITE_KEYS_COLLECTION=$WRITE_KEYS_COLLECTION"
      echo "WRITE_KEY_TTL=$WRITE_KEY_TTL"
      echo "REQUIRE_WRITE_KEY=$browser_collection"
      # A write key's rate is split between the instances that may serve it.
      echo "RATE_LIMIT_SHARES=$max_instances"
      ;;
    LoadEvents)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      echo "BIGQUERY_DATASET=$BIGQUERY_DATASET"
      ;;
    Backfill)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      # Terraform's backfill_queues: BACKFILL_QUEUE_ID, then BACKFILL_QUEUE_ID-1, -2, ...
      queues="projects/$project/locations/$region/queues/$BACKFILL_QUEUE_ID"
      for ((n = 1; n < BACKFILL_QUEUES; n++)); do
        queues+=",projects/$project/locations/$region/queues/$BACKFILL_QUEUE_ID-$n"
      done
      echo "BACKFILL_QUEUE=$queues"
      echo "BACKFILL_CONTROL_QUEUE=projects/$project/locations/$region/queues/$BACKFILL_CONTROL_QUEUE_ID"
      echo "WORKER_URL=$(url run-backfill-task)"
      echo "BACKFILL_URL=$(url backfill)"
      echo "TASKS_SERVICE_ACCOUNT=$(sa tasks-invoker)"
      echo "MAX_TASKS=$MAX_TASKS"
      echo "HTTP_JSON_ALLOWED_HOSTS=$HTTP_JSON_ALLOWED_HOSTS"
      echo "ENQUEUE_SLICE=$ENQUEUE_SLICE"
      echo "ENQUEUE_PARALLELISM=$ENQUEUE_PARALLELISM"
      echo "ENQUEUE_RATE=$ENQUEUE_RATE"
      echo "COUNTER_SHARDS=$COUNTER_SHARDS"
      echo "DISPATCH_DEADLINE=$DISPATCH_DEADLINE"
      echo "SWEEP_AFTER=$SWEEP_AFTER"
      echo "SWEEP_MAX_ATTEMPTS=$SWEEP_MAX_ATTEMPTS"
      echo "SWEEP_BUDGET=$SWEEP_BUDGET"
      echo "JOB_EVENTS_TOPIC=$JOB_EVENTS_TOPIC"
      ;;
    RunBackfillTask)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      echo "BIGQUERY_DATASET=$BIGQUERY_DATASET"
      echo "QUEUE_MAX_ATTEMPTS=$QUEUE_MAX_ATTEMPTS"
      echo "YOUTUBE_CLIENT_ID_SECRET=$(secret youtube-client-id)"
      echo "YOUTUBE_CLIENT_SECRET_SECRET=$(secret youtube-client-secret)"
      echo "YOUTUBE_REFRESH_TOKEN_SECRET=$(secret youtube-refresh-token)"
      echo "X_BEARER_TOKEN_SECRET=$(secret "$X_BEARER_TOKEN_SECRET_ID")" # x_search
      echo "EVENTS_TOPIC=$EVENTS_TOPIC"                                 # x_search publishes the tweets it finds
      echo "HTTP_JSON_ALLOWED_HOSTS=$HTTP_JSON_ALLOWED_HOSTS"
      echo "COUNTER_SHARDS=$COUNTER_SHARDS"
      echo "API_TIMEOUT=$API_TIMEOUT"
      echo "WORK_TIMEOUT=$WORK_TIMEOUT"
      ;;
    UpdateRankings)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      echo "RANKINGS_DATABASE=$RANKINGS_DATABASE"
      echo "RANKINGS_SHARDS=$RANKINGS_SHARDS"
      echo "RANKINGS_LAYOUT=$RANKINGS_LAYOUT"
      ;;
    ServeRankings)
      echo "GOOGLE_CLOUD_PROJECT=$project"
      echo "RANKINGS_DATABASE=$RANKINGS_DATABASE"
      echo "RANKINGS_CACHE_TTL=$RANKINGS_CACHE_TTL"
      echo "RANKINGS_LAYOUT=$RANKINGS_LAYOUT"
      echo "RECENT_VIEWS_KEY_SECRET=$(secret "$RECENT_VIEWS_KEY_SECRET_ID")"
      echo "DECK_DEFAULT_KEYWORD=$DECK_DEFAULT_KEYWORD"
      echo "DECK_WINDOW=$DECK_WINDOW"
      echo "DECK_POLL_INTERVAL=$DECK_POLL_INTERVAL"
      echo "BACKFILL_URL=$(url backfill)"
      # The deck's own events: with browser collection and a write key (Terraform's rule).
      if $browser_collection && [[ -n $DECK_COLLECT_KEY ]]; then
        echo "DECK_COLLECT_URL=$(url collect-events)"
        echo "DECK_COLLECT_KEY=$DECK_COLLECT_KEY"
      else
        echo "DECK_COLLECT_URL="
        echo "DECK_COLLECT_KEY="
      fi
      # The deck's sign-in (terraform/deck.tf, docs/sign-in.md).
      if [[ $DECK_SIGN_IN == true ]]; then echo "DECK_AUTH=firebase"; else echo "DECK_AUTH=off"; fi
      echo "DECK_DATABASE=$DECK_DATABASE"
      echo "DECK_BACKFILL_ADMINS=$(deck_backfill_admins)"
      echo "DECK_FIREBASE_API_KEY=$DECK_FIREBASE_API_KEY"
      ;;
    *) echo "deploy.sh: no environment for $1" >&2; exit 1 ;;
  esac
}

# run prints a command with --dry-run, its words up to the first flag on one line and then one
# flag a line, and runs it otherwise.
run() {
  if $dry_run; then
    local flags=false arg
    printf '%q' "$1"
    for arg in "${@:2}"; do
      if [[ $arg == -* ]]; then flags=true; fi
      if $flags; then printf ' \\\n  %q' "$arg"; else printf ' %q' "$arg"; fi
    done
    printf '\n'
  else
    "$@"
  fi
}

# env_file ENTRY_POINT writes the function's environment as the YAML file gcloud's
# --env-vars-file reads (one double-quoted value a line, so commas, quotes and JSON pass as they
# are) and prints its path.
env_file() {
  local lines file line key value
  lines=$(env_of "$1")
  file=$(mktemp "${TMPDIR:-/tmp}/deploy-env.XXXXXX")
  while IFS= read -r line; do
    key=${line%%=*} value=${line#*=}
    value=${value//\\/\\\\}
    value=${value//\"/\\\"}
    printf '%s: "%s"\n' "$key" "$value"
  done <<<"$lines" >"$file"
  echo "$file"
}

deployed=0
for line in "${FUNCTIONS[@]}"; do
  read -r entry name account memory cpu timeout concurrency max_instances ingress <<<"$line"
  if [[ -n $only && $only != "$name" && $only != "$entry" ]]; then
    continue
  fi
  deployed=$((deployed + 1))
  envs=$(env_file "$entry")
  run gcloud functions deploy "$name" \
    --gen2 \
    --project="$project" \
    --region="$region" \
    --runtime="$RUNTIME" \
    --entry-point="$entry" \
    --source=. \
    --trigger-http \
    --no-allow-unauthenticated \
    --service-account="$(sa "$account")" \
    --build-service-account="projects/$project/serviceAccounts/$(sa functions-build)" \
    --memory="$memory" \
    --cpu="$cpu" \
    --timeout="${timeout}s" \
    --concurrency="$concurrency" \
    --max-instances="$max_instances" \
    --ingress-settings="$ingress" \
    --env-vars-file="$envs"
  if $dry_run; then
    echo "# with $envs holding its environment:"
    sed 's/^/#   /' "$envs"
  fi
  rm -f "$envs"

  # Who may call it: Terraform's locals.invokers, the internal callers and the listed principals.
  members=()
  case $entry in
    StreamTweets) members=("serviceAccount:$(sa scheduler-invoker)") ;;
    LoadEvents | UpdateRankings) members=("serviceAccount:$(sa pubsub-push)") ;;
    RunBackfillTask) members=("serviceAccount:$(sa tasks-invoker)") ;;
    # tasks: its expansion tasks; serve-rankings: the deck's backfills panel; scheduler: the sweep.
    Backfill) members=("serviceAccount:$(sa tasks-invoker)" "serviceAccount:$(sa fn-serve-rankings)" "serviceAccount:$(sa scheduler-invoker)" ${backfill_invokers[@]+"${backfill_invokers[@]}"}) ;;
    CollectEvents)
      members=(${collect_invokers[@]+"${collect_invokers[@]}"})
      # Browser collection: Terraform's collect_events_public; CollectEvents then needs write keys.
      if $browser_collection; then members+=("allUsers"); fi
      ;;
    ServeRankings)
      members=(${rankings_invokers[@]+"${rankings_invokers[@]}"})
      # deck_sign_in: Terraform's deck_public; ServeRankings then requires an ID token itself.
      if [[ $DECK_SIGN_IN == true ]]; then members+=("allUsers"); fi
      ;;
  esac
  for member in ${members[@]+"${members[@]}"}; do
    run gcloud functions add-invoker-policy-binding "$name" --project="$project" --region="$region" \
      --member="$member"
  done

  case $entry in
    LoadEvents)
      # Create the push subscription, or bring an existing one to these settings.
      flags=(
        --project="$project"
        --ack-deadline="$timeout"
        --message-retention-duration="$MESSAGE_RETENTION_DURATION"
        --expiration-period=never
        --push-endpoint="$(url "$name")/projects/$project/topics/$EVENTS_TOPIC" # LoadEvents reads the topic here
        --push-auth-service-account="$(sa pubsub-push)"
        --push-auth-token-audience="$(url "$name")"
        --min-retry-delay="$LOADER_MIN_BACKOFF"
        --max-retry-delay="$LOADER_MAX_BACKOFF"
        --dead-letter-topic="$DEAD_LETTER_TOPIC"
        --max-delivery-attempts="$LOADER_MAX_DELIVERY_ATTEMPTS"
      )
      if ! $dry_run && gcloud pubsub subscriptions describe "$LOADER_SUBSCRIPTION" --project="$project" >/dev/null 2>&1; then
        run gcloud pubsub subscriptions update "$LOADER_SUBSCRIPTION" "${flags[@]}"
      else
        run gcloud pubsub subscriptions create "$LOADER_SUBSCRIPTION" --topic="$EVENTS_TOPIC" "${flags[@]}"
      fi
      # Pub/Sub's service agent acknowledges dead-lettered messages on the subscription.
      run gcloud pubsub subscriptions add-iam-policy-binding "$LOADER_SUBSCRIPTION" --project="$project" \
        --member="serviceAccount:service-$project_number@gcp-sa-pubsub.iam.gserviceaccount.com" \
        --role=roles/pubsub.subscriber
      ;;
    UpdateRankings)
      # The rankings' push subscription, filtered on the kind attribute (a filter cannot be
      # changed on an existing subscription: delete it to change the filter).
      flags=(
        --project="$project"
        --ack-deadline="$timeout"
        --message-retention-duration="$MESSAGE_RETENTION_DURATION"
        --expiration-period=never
        --push-endpoint="$(url "$name")/projects/$project/topics/$EVENTS_TOPIC"
        --push-auth-service-account="$(sa pubsub-push)"
        --push-auth-token-audience="$(url "$name")"
        --min-retry-delay="$LOADER_MIN_BACKOFF"
        --max-retry-delay="$LOADER_MAX_BACKOFF"
        --dead-letter-topic="$DEAD_LETTER_TOPIC"
        --max-delivery-attempts="$LOADER_MAX_DELIVERY_ATTEMPTS"
      )
      if ! $dry_run && gcloud pubsub subscriptions describe "$RANKINGS_SUBSCRIPTION" --project="$project" >/dev/null 2>&1; then
        run gcloud pubsub subscriptions update "$RANKINGS_SUBSCRIPTION" "${flags[@]}"
      else
        run gcloud pubsub subscriptions create "$RANKINGS_SUBSCRIPTION" --topic="$EVENTS_TOPIC" --message-filter="$RANKINGS_FILTER" "${flags[@]}"
      fi
      run gcloud pubsub subscriptions add-iam-policy-binding "$RANKINGS_SUBSCRIPTION" --project="$project" \
        --member="serviceAccount:service-$project_number@gcp-sa-pubsub.iam.gserviceaccount.com" \
        --role=roles/pubsub.subscriber
      ;;
    StreamTweets)
      flags=(
        --project="$project"
        --location="$region"
        --schedule="$STREAM_SCHEDULE"
        --time-zone="$SCHEDULER_TIME_ZONE"
        --uri="$(url "$name")"
        --http-method=post
        --oidc-service-account-email="$(sa scheduler-invoker)"
        --oidc-token-audience="$(url "$name")"
        --attempt-deadline="$((timeout < 1800 ? timeout : 1800))s"
        --max-retry-attempts=0
      )
      if ! $dry_run && gcloud scheduler jobs describe "$name" --project="$project" --location="$region" >/dev/null 2>&1; then
        run gcloud scheduler jobs update http "$name" "${flags[@]}"
      else
        run gcloud scheduler jobs create http "$name" "${flags[@]}"
      fi
      ;;
    Backfill)
      # The sweep of backfill jobs (Terraform's google_cloud_scheduler_job.backfill_sweep).
      flags=(
        --project="$project"
        --location="$region"
        --schedule="$BACKFILL_SWEEP_SCHEDULE"
        --time-zone="$SCHEDULER_TIME_ZONE"
        --uri="$(url "$name")/backfills:sweep"
        --http-method=post
        --oidc-service-account-email="$(sa scheduler-invoker)"
        --oidc-token-audience="$(url "$name")"
        --attempt-deadline="$((timeout < 1800 ? timeout : 1800))s"
        --max-retry-attempts=0
      )
      if ! $dry_run && gcloud scheduler jobs describe "$name-sweep" --project="$project" --location="$region" >/dev/null 2>&1; then
        run gcloud scheduler jobs update http "$name-sweep" "${flags[@]}"
      else
        run gcloud scheduler jobs create http "$name-sweep" "${flags[@]}"
      fi
      ;;
  esac
done

if ((deployed == 0)); then
  echo "deploy.sh: no function is named $only" >&2
  exit 2
fi
