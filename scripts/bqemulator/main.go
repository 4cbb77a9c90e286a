// Command bqemulator runs the local BigQuery server until SIGINT or SIGTERM.
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

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9050", "host:port to listen on (REST and gRPC)")
	project := flag.String("project", "local-project", "default project for unqualified table names")
	database := flag.String("database", "", "DuckDB file to keep data in (empty: in memory)")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(*addr, *project, *database, logger); err != nil {
		logger.Error("bqemulator failed", "error", err)
		os.Exit(1)
	}
}

func run(addr, project, database string, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []bqemulator.Option{bqemulator.WithAddr(addr), bqemulator.WithProject(project), bqemulator.WithLogger(logger)}
	if database != "" {
		opts = append(opts, bqemulator.WithDatabase(database))
	}
	srv, err := bqemulator.NewServer(opts...)
	if err != nil {
		return fmt.Errorf("starting server: %w", err)
	}
	// The address on stdout lets scripts capture it (e.g. BIGQUERY_EMULATOR_HOST=$(...)).
	fmt.Println(srv.Addr())
	<-ctx.Done()
	logger.Info("shutting down")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stopping server: %w", err)
	}
	return nil
}
