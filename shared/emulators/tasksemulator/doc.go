// Package tasksemulator is a local Cloud Tasks server: it implements
// google.cloud.tasks.v2.CloudTasks over gRPC on a loopback port so that the
// official cloud.google.com/go/cloudtasks/apiv2 client runs unchanged, and it
// dispatches HTTP target tasks to their URLs with production's headers, rate
// limits, retries and OIDC tokens. It follows the shape of pstest: a real gRPC
// server, one mutex over all state, inspection helpers (Tasks, Dispatched,
// WaitDispatched, WaitIdle), per-method fault injection (SetFault) and an
// injectable clock (WithClock, FakeClock) that drives every timing.
//
// Point a client at it with ClientOptions(srv.Addr()); processes find it
// through CLOUD_TASKS_EMULATOR_HOST (EnvHost). The same port serves, over
// HTTP/1.1, the JWKS that verifies the OIDC tokens it signs: connections are
// told apart by the HTTP/2 preface that gRPC clients send first.
//
// Behaviour taken from the v2 API reference:
//   - Names: PROJECT_ID of letters, digits, '-', ':', '.'; QUEUE_ID of letters,
//     digits and '-' up to 100; TASK_ID of letters, digits, '-', '_' up to 500.
//   - Queue defaults: 500 dispatches/s (the maximum), max_concurrent_dispatches
//     1000 (max 5000), max_attempts 100, min_backoff 0.1s, max_backoff 3600s,
//     max_doublings 16, no max_retry_duration.
//   - Tasks: at most 100KB (proto size of the task), headers under 80KB, URL
//     at most 2083 characters, a body only with POST/PUT/PATCH, schedule_time
//     at most 30 days ahead (earlier or unset means now), dispatch_deadline
//     15s-30min (default 10min). A caller-given name that exists or was
//     deleted, purged, executed or dropped within the tombstone TTL fails with
//     ALREADY_EXISTS. BASIC (the default view) omits the HTTP body.
//   - Dispatch: a token bucket (x/time/rate) of max_dispatches_per_second and
//     max_burst_size, max_concurrent_dispatches, schedule_time, PAUSED. 2xx
//     deletes the task; anything else, no response or the deadline schedules a
//     retry at min_backoff doubled max_doublings times, then growing linearly
//     by 2^max_doublings*min_backoff, capped at max_backoff. Retries stop when
//     max_attempts (-1: unlimited) and max_retry_duration (0: no limit) are both
//     satisfied, and the task is deleted. A task-level retry_config overrides the
//     queue's. On 429 and 503 a Retry-After header (seconds or HTTP date) delays
//     the retry to at least that long: the reference says only that Cloud Tasks
//     "considers" it and uses a higher backoff on those codes.
//   - Headers: User-Agent: Google-Cloud-Tasks; X-CloudTasks-QueueName (queue
//     ID), -TaskName (task ID), -TaskRetryCount (earlier attempts, all
//     failures), -TaskExecutionCount (earlier attempts that got a non-5XX
//     response), -TaskETA (schedule time, seconds.microseconds), and on retries
//     -TaskPreviousResponse (status of the previous attempt, when it got one)
//     and -TaskRetryReason. Host and Content-Length are computed; task headers
//     named User-Agent, X-Google-*, X-AppEngine-* or X-CloudTasks-* are dropped.
//     Queue http_target overrides (method, header_overrides, uri_override,
//     tokens) apply at dispatch.
//   - OIDC: Authorization: Bearer with an RS256 JWT (iss https://accounts.google.com,
//     aud = audience or the task URL, azp, sub, email, email_verified, iat,
//     exp = iat+1h) signed by a local key, verifiable with VerifyOIDC or the JWKS
//     at /oauth2/v3/certs.
//
// Where it differs from the real service:
//   - HTTP targets only: App Engine tasks fail with UNIMPLEMENTED, as do
//     BatchCreateTasks, BatchDeleteTasks, IAM, CMEK and ListQueues filters.
//   - No system throttling: no slow ramp-up of new or idle queues, no extra
//     backoff on high error rates; rate_limits are applied exactly.
//   - max_burst_size is ceil(max_dispatches_per_second) (1-500); production
//     picks it by an undocumented rule.
//   - Backoff durations are used as given; production truncates min_backoff,
//     max_backoff and max_retry_duration to whole seconds (yet reports 0.1s).
//   - X-CloudTasks-TaskRetryReason has an undocumented format in production;
//     here it is "HTTP 503 Service Unavailable", "DEADLINE_EXCEEDED" or
//     "UNAVAILABLE" (no response). -TaskPreviousResponse is omitted when the
//     previous attempt got no response.
//   - oauth_token yields a locally signed JWT carrying the scope, not a Google
//     access token.
//   - Tombstones last WithTombstoneTTL (default 1h) after delete or execution;
//     production documents up to 24h (9 days for queue.yaml queues). Deleted
//     queue names are reusable at once (production: up to 3 days).
//   - Tasks are not expired after 31 days; purges take effect at once.
//   - RunTask dispatches asynchronously and returns the task with the attempt
//     counted; a failed RunTask attempt reschedules from when the response came.
//   - Redirects are followed by Go's http.Client (at most 10).
//   - State is in memory only.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package tasksemulator
