// Package mysqltest gives tests real MySQL or MariaDB databases: a fresh,
// uniquely named database on the server that SEALAUTH_TEST_MYSQL_DSN names, or a
// private server of their own that they can stop and restart.
//
// SEALAUTH_TEST_MYSQL_DSN is a server DSN in the driver's form,
// root@tcp(127.0.0.1:3306)/, or a URL, mysql://root@127.0.0.1:3306/ (with a
// password if needed). The user must be allowed to create and drop databases.
// When it is unset, tests skip, except under CI (CI set), where they fail:
// CI must skip nothing.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	store "github.com/sealauth/sealauth/internal/store/mysql"
)

// EnvDSN names the test server.
const EnvDSN = "SEALAUTH_TEST_MYSQL_DSN"

// Need skips t when a test resource is missing, or fails it under CI.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI is set: nothing may be skipped)", args...)
	}
	t.Skipf(format, args...)
}

// serverConfig parses SEALAUTH_TEST_MYSQL_DSN.
func serverConfig(t testing.TB) *mysql.Config {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		Need(t, "%s is not set", EnvDSN)
	}
	if strings.HasPrefix(dsn, "mysql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: not a URL", EnvDSN)
		}
		// The server URL names no database; ParseURL wants one.
		u.Path = "/mysql"
		cfg, err := store.ParseURL(u.String())
		if err != nil {
			t.Fatalf("%s: %v", EnvDSN, err)
		}
		cfg.DBName = ""
		return cfg
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	if cfg.Net != "tcp" {
		t.Fatalf("%s: network %q, want tcp (the store connects by URL, which names a host)", EnvDSN, cfg.Net)
	}
	return cfg
}

// storeURL is the mysql:// URL of database db on the server cfg describes.
func storeURL(cfg *mysql.Config, db string) string {
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + db, User: url.User(cfg.User)}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	}
	return u.String()
}

// NewDatabase creates an empty database with a unique name on the test server,
// drops it when the test ends, and returns its mysql:// URL. options are added
// to CREATE DATABASE, e.g. "CHARACTER SET latin1" to play an old server.
func NewDatabase(t testing.TB, options string) string {
	t.Helper()
	cfg := serverConfig(t)
	db := connect(t, cfg)
	name := "sealauth_test_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	return storeURL(cfg, name)
}

// TutorialTable is the users table exactly as the original tutorial created it.
const TutorialTable = `CREATE TABLE users (
	id INT AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(100),
	email VARCHAR(100) UNIQUE,
	password VARCHAR(255),
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`

// Bcrypt hashes of TutorialPassword made by bcryptjs 3, as the tutorial stored
// them: at its cost 12, and at cost 4.
const (
	TutorialPassword = "tutorial-pass-2024"
	TutorialHash12   = "$2b$12$bPEytZZxX/jzNd6hTm/fDunwArC660Svm5s56snRAUp6Vu/Wm8wyO"
	TutorialHash4    = "$2b$04$Nwdsp0ZWJRRuSPk9jBa8b.vtjF4BomW0fd9q5S.HLdyE4VY6/Q4mi"
)

// HostPort returns the test server's address, for the tutorial's DB_HOST.
func HostPort(t testing.TB) string {
	t.Helper()
	return serverConfig(t).Addr
}

// DB opens a plain driver pool on the database of a mysql:// URL, with the
// store's time zone, for a test to prepare or inspect tables directly. It is
// closed when the test ends.
func DB(t testing.TB, rawURL string) *sql.DB {
	t.Helper()
	cfg, err := store.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("DB: %v", err)
	}
	return connect(t, cfg)
}

func connect(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	cfg = cfg.Clone()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	cfg.MultiStatements = true
	cfg.Timeout = 5 * time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("mysqltest: %v", err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("mysqltest: connect to %s: %v", cfg.Addr, err)
	}
	return db
}

// Server is a private MariaDB server that a test starts, stops and restarts,
// on its own port and data directory.
type Server struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer initialises a data directory, starts a server on a free port with
// a database named sealauth, and removes it all when the test ends. It needs
// mariadb-install-db and mariadbd.
func StartServer(t testing.TB) *Server {
	t.Helper()
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		Need(t, "mariadb-install-db not found: %v", err)
	}
	if _, err := os.Stat(mariadbd); err != nil {
		Need(t, "%s not found: %v", mariadbd, err)
	}
	// Not t.TempDir: its path can exceed the 107 bytes a socket path may have.
	dir, err := os.MkdirTemp("", "sealauth-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, port: freePort(t)}
	t.Cleanup(func() {
		s.Stop()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the server's directory: %v", err)
		}
	})
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}, s.common()...)
	// #nosec G204 -- a test runs the installed MariaDB tools with its own arguments
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	s.Start()
	db := connect(t, s.config(""))
	if _, err := db.Exec("CREATE DATABASE sealauth"); err != nil {
		t.Fatalf("CREATE DATABASE sealauth: %v", err)
	}
	_ = db.Close()
	return s
}

const mariadbd = "/usr/sbin/mariadbd"

// common are the options of both the installer and the server. Durability is off
// because the tests kill the server, not the machine: a killed mariadbd loses no
// committed write that the kernel already has.
func (s *Server) common() []string {
	args := []string{"--skip-name-resolve", "--innodb-flush-method=nosync", "--innodb-flush-log-at-trx-commit=2"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

func (s *Server) config(db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), db
	return cfg
}

// URL is the mysql:// URL of the server's sealauth database.
func (s *Server) URL() string { return storeURL(s.config(""), "sealauth") }

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(s.dir, "data"),
		"--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(s.dir, "sock"), "--pid-file=" + filepath.Join(s.dir, "pid"),
		"--log-error=" + filepath.Join(s.dir, "error.log"), "--skip-log-bin"}, s.common()...)
	cmd := exec.Command(mariadbd, args...) // #nosec G204 -- see StartServer
	// Its own process group, so that a ^C to the test does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start mariadbd: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)

	cfg := s.config("")
	cfg.Timeout = time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			s.t.Fatalf("mariadbd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("mariadbd did not answer within 60 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server at once with SIGKILL, as a crash would, and waits until
// it has exited. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a frozen process dies only once resumed
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Freeze suspends the server (SIGSTOP): it keeps its connections and port but
// answers nothing, like a hung host. It returns once every thread has stopped:
// the kernel delivers the signal a moment later, in which a query could still
// slip through. Thaw resumes it.
func (s *Server) Freeze() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
	deadline := time.Now().Add(10 * time.Second)
	for !stopped(s.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			s.t.Fatalf("mariadbd did not stop within 10 s of SIGSTOP")
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped reports whether every thread of process pid is stopped (state T).
func stopped(pid int) bool {
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	for _, p := range stats {
		b, err := os.ReadFile(p) // #nosec G304 -- /proc entries
		if err != nil {
			continue // the thread has exited
		}
		// pid (comm) state …; comm may hold spaces and parentheses.
		if i := strings.LastIndex(string(b), ") "); i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return len(stats) > 0
}

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil {
		s.t.Fatalf("mariadbd is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal mariadbd: %v", err)
	}
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
	return fmt.Sprintf("mariadbd on port %d (data in %s)", s.port, s.dir)
}
