package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test start this test binary as a real sealauth process (for
// tests that need separate processes or real signals): with
// SEALAUTH_TEST_MAIN=1 it runs main instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("SEALAUTH_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startProcess runs `sealauth serve` as a child process on a free port and
// returns a testServer for it; the process gets SIGTERM when the test ends.
func startProcess(t *testing.T, dataDir string, env map[string]string, args ...string) (*testServer, *exec.Cmd) {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...) // #nosec G204 G702 -- this test binary
	cmd.Env = append(os.Environ(), "SEALAUTH_TEST_MAIN=1", "BCRYPT_COST=4")
	for k, v := range testLimitsOff {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
	}
	m := listenLine.FindStringSubmatch(line)
	if m == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("process did not start: first line %q; log:\n%s", line, logs.String())
	}
	s := &testServer{URL: m[1], DataDir: dataDir, Log: logs}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sealauth process exited: %v; log tail:\n%s", err, tail(logs.String(), 20))
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("sealauth process did not stop within 20 s of SIGTERM")
		}
	}
	t.Cleanup(func() { s.stop() }) // late-bound: a test that stops the process itself replaces stop
	s.waitHealthy(t)
	s.fetchPublicKey(t)
	return s, cmd
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintln(strings.Join(lines, "\n"))
}
