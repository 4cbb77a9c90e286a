package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
)

// pprofAddrEnv names the address (host:port) of a net/http/pprof endpoint; unset serves none.
// Only this local binary has it: deployed functions are built from the repository root.
const pprofAddrEnv = "FUNCTIONS_PPROF_ADDR"

// servePprof serves the profiles on their own port when FUNCTIONS_PPROF_ADDR is set, so that a
// benchmark can profile the functions under load without the functions' mux knowing.
func servePprof() {
	addr := os.Getenv(pprofAddrEnv)
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			fmt.Fprintf(os.Stderr, "functions: pprof on %s: %v\n", addr, err)
		}
	}()
}
