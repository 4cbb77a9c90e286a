// Package drills holds the local stack's fault drills and the rankings' checks against their
// SQL truth: whole stacks (every emulator, the functions process, backfills) driven through
// kills, outages, duplicate deliveries, API failures and revoked tokens. It has tests only; they
// are a package of their own so that `go test ./...` runs them as a binary apart from
// shared/localstack's, each well inside go test's default 10-minute timeout on a busy machine.
//
// Reference: docs/local-stack.md.
package drills
