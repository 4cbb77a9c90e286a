// Package iamcheck is a local stand-in for Google Cloud IAM: a proxy that acts as one identity
// and refuses, the way Google does, every call that identity's roles do not allow, so a function
// missing a role fails on a developer's machine instead of in production.
//
// Each function of the local stack runs as its own process and service account; its
// PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST, CLOUD_TASKS_EMULATOR_HOST and
// BIGQUERY_EMULATOR_HOST all point at one proxy (Proxy.Addr) for that identity. The proxy
// serves gRPC and HTTP/1.1 on one loopback port. gRPC calls are routed by service
// (google.pubsub.v1, google.firestore.v1, google.cloud.tasks.v2,
// google.cloud.bigquery.storage.v1, google.cloud.secretmanager.v1) and forwarded untouched —
// headers, every message of every stream, trailers — after each request message that names a
// resource is decoded and checked. HTTP calls to BigQuery's REST API are checked and forwarded
// to the BigQuery upstream's HTTP side.
//
//	policy, err := iamcheck.NewPolicy([]iamcheck.Binding{
//		{Member: loader, Role: "roles/bigquery.dataEditor", Resource: "projects/p/datasets/events/tables/tweets"},
//	})
//	proxy, err := iamcheck.Start(ctx, iamcheck.Config{
//		Member: loader, Policy: policy,
//		Upstreams: map[string]string{iamcheck.BigQuery: bq.Addr(), iamcheck.PubSub: pubsubHost},
//	})
//	// BIGQUERY_EMULATOR_HOST=proxy.Addr() ...; after the run, proxy.Decisions() says what was called.
//
// # What it knows
//
// roles.json holds the predefined roles the project uses, each with the permissions of Google's
// IAM roles reference, the page it documents it on and when it was read; custom roles are given
// to NewPolicy. The permission tables (methods_*.go, rest.go) map each gRPC method and REST call
// to the permissions and resources the API reference names, citing the page. A binding applies
// to its resource and everything under it: a project covers all, a dataset its tables, a queue
// its tasks, a secret its versions; Firestore documents are project-level (Firestore has no IAM
// below the project).
//
// Refusals carry the service's own words (see DeniedError): gRPC PERMISSION_DENIED, and for
// BigQuery REST a 403 with Google's JSON error body (reason accessDenied).
//
// # Where it differs from Google
//
//   - Only the methods in the tables are known; with Strict (the default) any other call is
//     refused with PERMISSION_DENIED naming the method, so it must be added before it is used.
//   - BigQuery queries (jobs.insert, jobs.query) need bigquery.jobs.create on the project, as
//     documented; the data-level permissions a query's SQL needs (bigquery.tables.getData on the
//     tables it reads, updateData on a destination table) are not checked, since that needs the
//     SQL parsed. A job's creator may read and cancel it; the proxy knows the jobs created
//     through it, and other jobs need bigquery.jobs.get or bigquery.jobs.update on the project.
//   - IAM conditions, deny policies, organization and folder bindings, VPC Service Controls,
//     Firestore security rules (which do not apply to server client libraries) and
//     iam.serviceAccounts.actAs checks other than Cloud Tasks' HTTP task tokens do not exist.
//   - Secret versions named with a location (projects/P/locations/L/secrets/S/versions/V) are
//     checked on that name, so only a binding on the project or on that located secret covers
//     them.
//   - The upstream call is opened when the first request message has been checked, so a
//     refused unary call never reaches the upstream; a client that waits for response headers
//     before it sends anything would wait for ever (none of Google's clients does).
//   - Pub/Sub's message ("User not authorized to perform this action.") names no permission;
//     the proxy's warning log and Decisions do.
//
// Reference: docs/local-stack.md#permissions.
package iamcheck
