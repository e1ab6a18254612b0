// Package pgtest gives tests real PostgreSQL databases: a fresh, uniquely named
// database on the server that SEALAUTH_TEST_POSTGRES_URL names, or a private
// server of their own that they can stop and restart.
//
// SEALAUTH_TEST_POSTGRES_URL is a URL such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable whose user may
// create and drop databases. When it is unset, tests skip, except under CI (CI
// set), where they fail: CI must skip nothing.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sealauth/sealauth/internal/store/postgres"
)

// EnvURL names the test server.
const EnvURL = "SEALAUTH_TEST_POSTGRES_URL"

// Need skips t when a test resource is missing, or fails it under CI.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI is set: nothing may be skipped)", args...)
	}
	t.Skipf(format, args...)
}

// NewDatabase creates an empty database with a unique name on the test server,
// drops it when the test ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvURL)
	if server == "" {
		Need(t, "%s is not set", EnvURL)
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: not a URL", EnvURL)
	}
	db := DB(t, server)
	name := "sealauth_test_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a server under test may still hold connections.
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// DB opens a plain pool on the database of a URL, for a test to prepare or
// inspect tables directly. It is closed when the test ends.
func DB(t testing.TB, rawURL string) *sql.DB {
	t.Helper()
	cfg, err := postgres.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("pgtest: connect to %s:%d: %v", cfg.Host, cfg.Port, err)
	}
	return db
}

// Server is a private PostgreSQL server that a test starts, stops and restarts,
// on its own port and data directory.
type Server struct {
	t       testing.TB
	bin     string // the directory of initdb, pg_ctl and postgres
	dir     string
	port    int
	asUser  []string // runuser -u postgres --, when the test runs as root
	running bool
}

// StartServer initialises a data directory with initdb, starts a server on a
// free port, and removes it all when the test ends. It needs the server
// binaries of a Debian-style install (/usr/lib/postgresql/*/bin). PostgreSQL
// refuses to run as root; as root, it runs as the postgres user.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		Need(t, "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
	}
	sort.Strings(bins)
	s := &Server{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	// Not t.TempDir: the postgres user must own it, and socket paths are short.
	dir, err := os.MkdirTemp("", "sealauth-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() {
		s.Stop()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the server's directory: %v", err)
		}
	})
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			Need(t, "running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	s.run(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	s.Start()
	return s
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs a PostgreSQL tool, as the postgres user when the test is root.
func (s *Server) run(name string, args ...string) {
	s.t.Helper()
	argv := append(append(append([]string{}, s.asUser...), name), args...)
	cmd := exec.Command(argv[0], argv[1:]...) // #nosec G204 -- a test runs the installed PostgreSQL tools with its own arguments
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s: %v\n%s", filepath.Base(name), err, out)
	}
}

// URL is the URL of the server's postgres database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Start starts the server (again) and waits until it accepts connections.
// Durability is off (fsync=off) because the tests kill the server, not the
// machine: a killed server loses no committed write the kernel already has.
func (s *Server) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", s.port, s.dir)
	s.run(filepath.Join(s.bin, "pg_ctl"), "start", "-w", "-t", "60", "-D", s.data(), "-l", filepath.Join(s.dir, "server.log"), "-o", opts)
	s.running = true
}

// Stop stops the server at once (pg_ctl stop -m immediate: every server process
// quits without a checkpoint, as in a crash; the next start recovers from the
// write-ahead log). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if !s.running {
		return
	}
	s.Thaw()
	s.run(filepath.Join(s.bin, "pg_ctl"), "stop", "-m", "immediate", "-w", "-D", s.data())
	s.running = false
}

// Freeze suspends every server process (SIGSTOP): they keep their connections
// and port but answer nothing, like a hung host. It returns once they have all
// stopped: the kernel delivers the signal a moment later, in which a query could
// still slip through. Thaw resumes them.
func (s *Server) Freeze() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range s.signal(syscall.SIGSTOP) {
		for !stopped(pid) {
			if time.Now().After(deadline) {
				s.t.Fatalf("PostgreSQL process %d did not stop within 10 s of SIGSTOP", pid)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// stopped reports whether process pid is stopped (state T), or gone (exited,
// or a zombie that its stopped parent cannot reap).
func stopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state …; comm may hold spaces and parentheses.
	i := strings.LastIndex(string(b), ") ")
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 'Z')
}

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

// signal signals the postmaster and every server process it started, and
// returns their pids. Each of
// those leads a process group of its own (PostgreSQL calls setsid in every child
// so that the postmaster can signal their groups), so signalling the
// postmaster's group would reach only the postmaster. It is stopped first and
// resumed last, so that it starts no process the loop below misses.
func (s *Server) signal(sig syscall.Signal) []int {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		s.t.Fatalf("postmaster.pid: %v", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pm <= 1 {
		s.t.Fatalf("postmaster.pid: no pid in %q", first)
	}
	pids := append([]int{pm}, children(pm)...)
	if sig == syscall.SIGCONT {
		slices.Reverse(pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && pid == pm {
			s.t.Fatalf("signal the postmaster: %v", err)
		}
	}
	return pids
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p) // #nosec G304 -- /proc entries
		if err != nil {
			continue // the process has exited
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		_, rest, ok := strings.Cut(string(b), ") ")
		if f := strings.Fields(rest); ok && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// String describes the server for failure messages.
func (s *Server) String() string {
	return fmt.Sprintf("PostgreSQL on port %d (data in %s)", s.port, s.dir)
}
