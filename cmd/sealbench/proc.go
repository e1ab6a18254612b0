package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process sealbench started: sealauth or the floor.
type child struct {
	name string
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	out  *tailBuffer
	// started is just before the process was created: cold starts count from it.
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // how it exited, once done is closed
}

// startChild starts bin with args and --addr set to a free loopback port, and
// returns at once; waitReady tells when it answers.
func startChild(name, bin string, args []string, env []string, dir string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{max: 16 << 10}
	// #nosec G204 G702 -- bin is the sealauth binary this harness built (or the
	// one --server-bin names) or sealbench itself; the arguments are its own.
	cmd := exec.Command(bin, append(args, "--addr", addr)...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, base: "http://" + addr, out: out, started: started, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// waitReady polls path until it answers 200 and returns the time since since.
// It fails if the process exits first or limit passes.
func (c *child) waitReady(ctx context.Context, path string, since time.Time, limit time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	defer client.CloseIdleConnections()
	deadline := since.Add(limit)
	for {
		// #nosec G704 -- c.base is the loopback address this harness picked.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return 0, err
		}
		if resp, err := client.Do(req); err == nil { // #nosec G704 -- as above
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(since), nil
			}
		}
		select {
		case <-c.done:
			return 0, fmt.Errorf("%s exited before answering %s (%v): %s", c.name, path, c.err, c.out.String())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not answer %s within %v: %s", c.name, path, limit, c.out.String())
		}
	}
}

// stop asks the process to shut down and kills it if it has not within 5 s.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// userHZ is the unit of utime and stime in /proc/<pid>/stat. It is 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const userHZ = 100

// procCPU returns the CPU time, user and system, that process pid has used.
// Its resolution is 1/userHZ s.
func procCPU(pid int) (time.Duration, error) {
	// #nosec G304 G703 -- a /proc path built from a process id.
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc: malformed stat")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("proc: malformed stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("proc: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// procMem returns a field of /proc/<pid>/status in bytes: "VmRSS" (resident
// now) or "VmHWM" (the peak since the process started).
func procMem(pid int, field string) (int64, error) {
	// #nosec G304 G703 -- a /proc path built from a process id.
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: %s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("proc: no %s in status", field)
}

// machineCPU returns the busy time of all cores together since boot: the
// first line of /proc/stat, everything but idle and iowait (guest time is
// already inside user time).
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("proc: malformed /proc/stat")
	}
	var busy int64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: /proc/stat: %w", err)
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / userHZ, nil
}
