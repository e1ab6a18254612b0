package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// serveFloor runs `sealbench floor`: the least an HTTP server in Go can do for
// a request like GET /api/auth/profile. It answers every request with a fixed
// JSON body of --size bytes, using the same http.Server settings as `sealauth
// serve`, so /profile ÷ floor is the share of the hardware sealauth's own work
// leaves. sealbench starts it as a child process, so that it does not share the
// load generator's scheduler and heap and is measured exactly like the server.
func serveFloor(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	size := fs.Int("size", 128, "bytes in each response body (JSON, newline-terminated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *size < 0 || *size > 1<<20 {
		return errors.New("floor: --size must be in 0..1048576")
	}
	body := floorBody(*size)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

// floorBody is a JSON object followed by a newline (as sealauth's encoder
// writes it), exactly n bytes long when n allows one.
func floorBody(n int) []byte {
	const frame = len(`{"pad":""}` + "\n")
	return []byte(`{"pad":"` + strings.Repeat("x", max(0, n-frame)) + `"}` + "\n")
}
