// Command functions serves every Cloud Function of the project on one port, as the Functions
// Framework does in production, each at /<EntryPoint> (or only FUNCTION_TARGET at /). The local
// stack runs it as its own process, configured through the environment like a deployed function.
//
// Reference: docs/local-stack.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/pipelinekit/pipelinekit" // registers every entry point
	"github.com/pipelinekit/pipelinekit/functions/backfill"
	"github.com/pipelinekit/pipelinekit/functions/serverankings"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	servePprof()
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	// Deployed, each function is served at "/" and Backfill sees /backfills/... paths. Here the
	// framework serves each at exactly /<EntryPoint>, so Backfill's sub-paths need a route.
	if err := funcframework.RegisterHTTPFunctionContext(context.Background(), "/Backfill/", backfill.Serve); err != nil {
		fmt.Fprintf(os.Stderr, "functions: %v\n", err)
		os.Exit(1)
	}
	if err := funcframework.RegisterHTTPFunctionContext(context.Background(), "/ServeRankings/", serverankings.Serve); err != nil {
		fmt.Fprintf(os.Stderr, "functions: %v\n", err)
		os.Exit(1)
	}
	if err := funcframework.StartHostPort(host, port); err != nil {
		fmt.Fprintf(os.Stderr, "functions: %v\n", err)
		os.Exit(1)
	}
}
