package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests run the real server: TestMain builds cmd/sealauth once into
// binDir and starts one shared instance; tests that need other settings start
// their own with startServer.
var (
	binDir  string
	binPath string
	shared  *server
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	binDir, err = os.MkdirTemp("", "sealauth-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if binPath, err = buildServer(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared, err = startServer(filepath.Join(binDir, "shared"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := shared.stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// buildServer compiles ./cmd/sealauth of this module into dir.
func buildServer(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not in a module")
	}
	bin := filepath.Join(dir, "sealauth")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sealauth") // #nosec G204 -- our own build of our own module
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sealauth: %w\n%s", err, out)
	}
	return bin, nil
}

// server is a running `sealauth serve` process.
type server struct {
	URL     string
	DataDir string
	env     []string
	cmd     *exec.Cmd
	done    chan error // the result of cmd.Wait
	logPath string
}

var listenLine = regexp.MustCompile(`^sealauth listening on (https?://\S+) `)

// baseEnv is the environment of every test server: a cheap bcrypt and no
// per-address rate limits (every test client is 127.0.0.1). Nothing else is
// inherited, so no DATABASE_URL or REDIS_URL of the caller leaks in.
var baseEnv = map[string]string{
	"BCRYPT_COST":                  "4",
	"RATE_LIMIT_LOGIN_PER_IP":      "off",
	"RATE_LIMIT_REGISTER_PER_IP":   "off",
	"RATE_LIMIT_REFRESH_PER_IP":    "off",
	"RATE_LIMIT_PUBLIC_KEY_PER_IP": "off",
}

// startServer starts a server with its data in dir (made if missing) and
// env on top of baseEnv, and waits until /healthz answers.
func startServer(dir string, env map[string]string) (*server, error) {
	vars := map[string]string{}
	for k, v := range baseEnv {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	s := &server{DataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "server.log"), done: make(chan error, 1)}
	for k, v := range vars {
		s.env = append(s.env, k+"="+v)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	// #nosec G204 -- the binary built by buildServer
	s.cmd = exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--data-dir", s.DataDir)
	s.cmd.Dir = dir // no stray .env
	s.cmd.Env = s.env
	s.cmd.Stderr = logFile
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { s.done <- s.cmd.Wait() }()

	select {
	case line := <-lines:
		m := listenLine.FindStringSubmatch(line)
		if m == nil {
			_ = s.stop()
			return nil, fmt.Errorf("sealauth serve: first line %q, want %q; log:\n%s", line, "sealauth listening on http://…", s.log())
		}
		s.URL = m[1]
	case <-time.After(30 * time.Second):
		_ = s.stop()
		return nil, fmt.Errorf("sealauth serve: no listening line within 30 s; log:\n%s", s.log())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("sealauth serve: /healthz not 200 within 10 s (%v); log:\n%s", err, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startTestServer is startServer for one test, stopped when it ends.
func startTestServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	s, err := startServer(t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 20 s).
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-s.done:
		s.done <- err // a second stop returns the same
		if err != nil {
			return fmt.Errorf("sealauth serve: %w; log:\n%s", err, s.log())
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("sealauth serve: still running 20 s after SIGTERM; log:\n%s", s.log())
	}
}

func (s *server) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// keys runs `sealauth keys SUB --data-dir DIR ARGS…` on the server's store
// (flags go before the arguments).
func (s *server) keys(ctx context.Context, sub string, args ...string) (string, error) {
	args = append([]string{"keys", sub, "--data-dir", s.DataDir}, args...)
	cmd := exec.CommandContext(ctx, binPath, args...) // #nosec G204 -- the binary built by buildServer
	cmd.Dir = filepath.Dir(s.DataDir)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("sealauth %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
