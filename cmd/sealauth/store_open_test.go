package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
)

const secretPassword = "hunter2-not-for-logs"

// silentListener accepts TCP connections and never answers, like a database
// host that hangs after the handshake, and returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// TestOpenStoreErrors: a bad or unreachable DATABASE_URL gives one line that
// names the setting and the URL tried, never the password, within a bounded time.
func TestOpenStoreErrors(t *testing.T) {
	silent := silentListener(t)
	tests := []struct {
		name, url string
		want      []string // substrings of the message
		down      bool     // the database is unreachable: errors.Is ErrUnavailable
	}{
		{name: "unsupported scheme", url: "redis://:" + secretPassword + "@127.0.0.1:6379/0", want: []string{"DATABASE_URL", "redis://:xxxxx@127.0.0.1:6379/0", "unsupported scheme"}},
		{name: "mysql refused", url: "mysql://root:" + secretPassword + "@127.0.0.1:1/sealauth", want: []string{"DB_HOST", "mysql://root:xxxxx@127.0.0.1:1/sealauth", "connection refused"}, down: true},
		{name: "mysql silent", url: "mysql://root:" + secretPassword + "@" + silent + "/sealauth?query_timeout=1s", want: []string{"mysql://root:xxxxx@" + silent}, down: true},
		{name: "mysql bad escape", url: "mysql://root:" + secretPassword + "%zz@127.0.0.1/sealauth", want: []string{"DATABASE_URL", "percent-encode"}},
		{name: "mysql no database", url: "mysql://root:" + secretPassword + "@127.0.0.1:3306", want: []string{"no database name"}},
		{name: "bad pool setting", url: "mysql://root:" + secretPassword + "@127.0.0.1/x?max_open_conns=lots", want: []string{"max_open_conns"}},
		{name: "postgres refused", url: "postgres://postgres:" + secretPassword + "@127.0.0.1:1/postgres?sslmode=disable", want: []string{"DATABASE_URL", "postgres://postgres:xxxxx@127.0.0.1:1/postgres"}, down: true},
		{name: "postgres password parameter", url: "postgresql://postgres@127.0.0.1:1/postgres?sslmode=disable&password=" + secretPassword, want: []string{"password=xxxxx"}, down: true},
		{name: "postgres silent", url: "postgres://postgres:" + secretPassword + "@" + silent + "/postgres?sslmode=disable&connect_timeout=1", want: []string{"postgres://postgres:xxxxx@" + silent}, down: true},
		{name: "sqlite missing directory", url: "sqlite:" + t.TempDir() + "/missing/sealauth.db", want: []string{"DATABASE_URL", "sqlite:"}, down: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, err := openStore(t.Context(), tt.url)
			if err == nil {
				s.Close()
				t.Fatalf("openStore(%s): err = nil, want an error", tt.name)
			}
			if d := time.Since(start); d > openTimeout+2*time.Second {
				t.Errorf("openStore(%s) took %v, want at most %v", tt.name, d, openTimeout)
			}
			msg := err.Error()
			if strings.Contains(msg, secretPassword) || strings.Contains(msg, "\n") {
				t.Errorf("openStore(%s): error %q shows the password or spans lines", tt.name, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("openStore(%s): error %q, want it to contain %q", tt.name, msg, w)
				}
			}
			if got := errors.Is(err, auth.ErrUnavailable); got != tt.down {
				t.Errorf("openStore(%s): errors.Is(err, ErrUnavailable) = %v, want %v (err %v)", tt.name, got, tt.down, err)
			}
		})
	}
}

func TestSplitPoolParams(t *testing.T) {
	u, p, err := splitPoolParams("mysql://root:pw@127.0.0.1:3306/db?tls=true&max_open_conns=4&max_idle_conns=2&conn_max_lifetime=10m&conn_max_idle_time=1m&query_timeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	if u != "mysql://root:pw@127.0.0.1:3306/db?tls=true" {
		t.Errorf("URL without pool parameters = %q", u)
	}
	want := pool{maxOpen: 4, maxIdle: 2, maxLifetime: 10 * time.Minute, maxIdleTime: time.Minute, queryTimeout: 2 * time.Second}
	if p != want {
		t.Errorf("pool = %+v, want %+v", p, want)
	}
	// Without pool parameters the URL reaches the driver untouched.
	const plain = "postgres://u@h/db?sslmode=disable&application_name=a%20b"
	if u, _, err := splitPoolParams(plain); err != nil || u != plain {
		t.Errorf("splitPoolParams(%q) = %q, %v; want it unchanged", plain, u, err)
	}
	for _, bad := range []string{"?max_open_conns=0", "?max_idle_conns=-1", "?query_timeout=5", "?conn_max_lifetime=-1m"} {
		if _, _, err := splitPoolParams("mysql://u@h/db" + bad); err == nil {
			t.Errorf("splitPoolParams(%s): err = nil, want an error", bad)
		}
	}
}

// TestServeFailsFastWhenDatabaseUnreachable runs the real binary against a
// database that does not answer: it must exit non-zero within a bounded time,
// printing one line that names the setting, without the password or a stack.
func TestServeFailsFastWhenDatabaseUnreachable(t *testing.T) {
	silent := silentListener(t)
	host, port, _ := net.SplitHostPort(silent)
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{name: "DATABASE_URL", env: []string{"DATABASE_URL=mysql://root:" + secretPassword + "@" + silent + "/sealauth"}, want: "DATABASE_URL"},
		{name: "tutorial variables", env: []string{"DB_HOST=" + host + ":" + port, "DB_USER=app", "DB_PASSWORD=" + secretPassword, "DB_NAME=python_rsa_auth"}, want: "DB_HOST"},
		{name: "postgres", env: []string{"DATABASE_URL=postgres://postgres:" + secretPassword + "@" + silent + "/postgres?sslmode=disable"}, want: "DATABASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()) // #nosec G204 G702 -- this test binary
			cmd.Env = append(append(os.Environ(), "SEALAUTH_TEST_MAIN=1", "BCRYPT_COST=4"), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("serve still running 30 s after start with an unreachable database")
			}
			elapsed := time.Since(start)
			t.Logf("serve exited after %v: %s", elapsed.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("serve: exit error = %v, want a non-zero exit status", err)
			}
			if elapsed > openTimeout+5*time.Second {
				t.Errorf("serve took %v to give up, want at most about %v", elapsed, openTimeout)
			}
			out := stderr.String()
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "sealauth: database ") {
				t.Errorf("stderr = %q, want one line starting %q", out, "sealauth: database ")
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, silent) {
				t.Errorf("stderr = %q, want it to name %s and the address %s", out, tt.want, silent)
			}
			if strings.Contains(out+stdout.String(), secretPassword) || strings.Contains(out, "goroutine ") {
				t.Errorf("output shows the password or a stack trace: %q", out)
			}
		})
	}
}
