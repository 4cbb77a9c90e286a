package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"google.golang.org/grpc/status"
)

// startCPUProfile profiles this process into path until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// grpcCode is the gRPC status code of err, by name.
func grpcCode(err error) string { return status.Code(err).String() }
