// Command sealbench is sealauth's load harness. It builds and starts a sealauth
// server on a temporary data dir (or targets a running one on loopback with
// --url), prepares users, and runs bounded load scenarios against it. Every run
// also measures a floor (a bare net/http server, started as a child process
// `sealbench floor`) and the bcrypt limit of the machine, and reports the
// server's figures as ratios to them. docs/benchmarks.md explains the figures;
// `go run ./cmd/sealbench --out docs/` regenerates them.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sealbench:", err)
		os.Exit(1)
	}
}
