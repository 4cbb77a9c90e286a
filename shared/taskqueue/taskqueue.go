// Package taskqueue creates Cloud Tasks HTTP tasks in bulk: names hashed from a caller's id so
// that a repeat is a dedup (ALREADY_EXISTS counts as created) and names are spread over the
// keyspace (Cloud Tasks is slower with sequential names), bounded parallel CreateTask calls, and
// exponential backoff with jitter on the codes that say "slow down" or "try again".
//
// The official cloud.google.com/go/cloudtasks/apiv2 client is used unchanged; ClientOptions
// points it at a local emulator when CLOUD_TASKS_EMULATOR_HOST is set.
//
// Reference: docs/backfills.md.
package taskqueue

import (
	"os"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EnvEmulatorHost is the environment variable naming a local Cloud Tasks server (host:port).
const EnvEmulatorHost = "CLOUD_TASKS_EMULATOR_HOST"

// ClientOptions returns the options for cloudtasks.NewClient: none in production, and when
// CLOUD_TASKS_EMULATOR_HOST is set, the ones that reach the emulator there (plaintext gRPC, no
// credentials). They repeat tasksemulator.ClientOptions so that production code does not
// import the emulator.
func ClientOptions() []option.ClientOption {
	return EmulatorOptions(os.Getenv(EnvEmulatorHost))
}

// EmulatorOptions returns the options that point the Cloud Tasks client at an emulator on host
// (host:port); nil when host is empty.
func EmulatorOptions(host string) []option.ClientOption {
	if host == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}
