// Command tasksemulator runs the local Cloud Tasks server until SIGINT or
// SIGTERM; point clients at it with CLOUD_TASKS_EMULATOR_HOST=<printed address>.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8123", "host:port to listen on (gRPC, and HTTP/1.1 for the JWKS)")
	tombstone := flag.Duration("tombstone-ttl", tasksemulator.DefaultTombstoneTTL, "how long a deleted or executed task's name stays reserved")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(*addr, *tombstone, logger); err != nil {
		logger.Error("tasksemulator failed", "error", err)
		os.Exit(1)
	}
}

func run(addr string, tombstoneTTL time.Duration, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := tasksemulator.NewServer(
		tasksemulator.WithAddr(addr),
		tasksemulator.WithTombstoneTTL(tombstoneTTL),
		tasksemulator.WithLogger(logger),
	)
	if err != nil {
		return fmt.Errorf("starting server: %w", err)
	}
	// The address on stdout lets scripts capture it: CLOUD_TASKS_EMULATOR_HOST=$(...).
	fmt.Println(srv.Addr())
	<-ctx.Done()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stopping server: %w", err)
	}
	return nil
}
