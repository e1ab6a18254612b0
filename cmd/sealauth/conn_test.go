//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The connection tests run the server as a process of its own (startProcess),
// so that the thousands of sockets and goroutines of the attacking side do
// not share a file-descriptor table or a scheduler with the server.

// The server's http.Server settings (serve.go) that these tests hold it to.
const (
	serverReadHeaderTimeout = 5 * time.Second
	serverReadTimeout       = 10 * time.Second
	serverMaxHeaderBytes    = 16 << 10
	// closeMargin is the slack on top of a server timeout before a connection
	// that should have been closed counts as held: generous, for a loaded
	// machine and the race detector. It bounds a wait; it measures nothing.
	closeMargin = 10 * time.Second
)

func hostPort(s *testServer) string { return strings.TrimPrefix(s.URL, "http://") }

// freshClient is another client: its own connections, no keep-alive, and a
// bound on each request so that a server that stopped answering fails the
// test instead of hanging it.
func freshClient(s *testServer) *testServer {
	other := *s
	other.client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	return &other
}

// serverFDs counts the server process's open file descriptors, or -1 where
// /proc does not show them.
func serverFDs(cmd *exec.Cmd) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
	if err != nil {
		return -1
	}
	return len(entries)
}

// checkAlive fails if the server process has exited.
func checkAlive(t *testing.T, s *testServer, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the server process is gone: %v; log tail:\n%s", err, tail(s.Log.String(), 20))
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := freshClient(s).do(t, "GET", path, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s: status = %d, want 200", path, r.status)
		}
	}
}

// trickled is what became of a connection fed one byte a second.
type trickled struct {
	lived time.Duration
	got   []byte // what the server sent before it closed, if anything
	err   error
}

// trickle writes head at once, then slow one byte a second, on c until the
// server closes the connection, and reports how long that took. It gives up
// after limit: the connection was held open too long.
func trickle(c net.Conn, head, slow string, limit time.Duration) trickled {
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		return trickled{err: fmt.Errorf("write: %w", err)}
	}
	var got bytes.Buffer
	buf := make([]byte, 512)
	for i := 0; ; i++ {
		if time.Since(start) > limit {
			return trickled{lived: time.Since(start), got: got.Bytes(), err: fmt.Errorf("still open after %v", time.Since(start).Round(time.Millisecond))}
		}
		// A write to a connection the server has closed may still succeed
		// (the reset comes back later); the read below sees the close.
		if i < len(slow) {
			_, _ = c.Write([]byte{slow[i]})
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		got.Write(buf[:n])
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
		default: // EOF or reset: the server closed the connection
			return trickled{lived: time.Since(start), got: got.Bytes()}
		}
	}
}

// dialMany opens n connections to addr with a few dialers at once; they are
// closed when the test ends.
func dialMany(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	d := net.Dialer{Timeout: 10 * time.Second}
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() { closeAll(conns) })
	if firstErr != nil {
		t.Fatalf("dial: %v", firstErr)
	}
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

// TestSlowloris opens 200 connections that send a request header one byte a
// second, and 50 that send a whole header and then the body one byte a
// second. The server must close the first within ReadHeaderTimeout and the
// second within ReadTimeout (each plus a margin; the test waits no longer),
// answering at most a 4xx, while another client's requests keep succeeding.
func TestSlowloris(t *testing.T) {
	s, cmd := startProcess(t, "", noRateLimits)
	other := freshClient(s)
	newUser(t, other, "slow@example.com")
	addr := hostPort(s)

	const slowHeaders, slowBodies = 200, 50
	headerConns := dialMany(t, addr, slowHeaders)
	bodyConns := dialMany(t, addr, slowBodies)
	type outcome struct {
		kind string
		trickled
	}
	results := make(chan outcome, slowHeaders+slowBodies)
	pad := strings.Repeat("a", 120) // more bytes than seconds the test waits
	for _, c := range headerConns {
		go func() {
			results <- outcome{"slow header", trickle(c, "", "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "+pad, serverReadHeaderTimeout+closeMargin)}
		}()
	}
	head := "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
	for _, c := range bodyConns {
		go func() {
			results <- outcome{"slow body", trickle(c, head, `{"email":"`+pad, serverReadTimeout+closeMargin)}
		}()
	}

	// Meanwhile another client is served.
	for range 10 {
		if r := other.do(t, "GET", "/healthz", "", nil); r.status != http.StatusOK {
			t.Errorf("GET /healthz during the attack: status = %d, want 200", r.status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	other.loginPair(t, "slow@example.com", goodPassword)
	if r := other.do(t, "GET", "/api/auth/public-key", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /public-key during the attack: status = %d, want 200", r.status)
	}

	longest := map[string]time.Duration{}
	for range slowHeaders + slowBodies {
		r := <-results
		if r.err != nil {
			t.Errorf("%s connection: %v", r.kind, r.err)
			continue
		}
		if len(r.got) > 0 && !bytes.HasPrefix(r.got, []byte("HTTP/1.1 4")) {
			t.Errorf("%s connection: the server sent %.80q before closing, want nothing or a 4xx", r.kind, r.got)
		}
		longest[r.kind] = max(longest[r.kind], r.lived)
	}
	t.Logf("longest-lived connection: slow header %v (ReadHeaderTimeout %v), slow body %v (ReadTimeout %v)",
		longest["slow header"].Round(time.Millisecond), serverReadHeaderTimeout, longest["slow body"].Round(time.Millisecond), serverReadTimeout)
	checkAlive(t, s, cmd)
	checkLogClean(t, s.Log.String())
}

// TestOversizedHeaders sends header sections over MaxHeaderBytes (16 KiB;
// net/http reads 4 KiB more before it refuses, so the sizes here start at 32
// KiB): each gets 431 without the server reading the rest. A 64 MiB header
// shows that: the server hangs up long before the client can write it all.
func TestOversizedHeaders(t *testing.T) {
	s, cmd := startProcess(t, "", nil)
	other := freshClient(s)
	newUser(t, other, "big@example.com")
	tok := other.loginToken(t, "big@example.com", goodPassword)
	for _, tt := range []struct{ name, head string }{
		{"32 KiB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 32<<10) + "\r\n\r\n"},
		{"100 KB bearer token", "GET /api/auth/profile HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + strings.Repeat("A", 100_000) + "\r\n\r\n"},
		{"1 MiB cookie", "GET /api/auth/profile HTTP/1.1\r\nHost: x\r\nCookie: a=" + strings.Repeat("c", 1<<20) + "\r\n\r\n"},
		{"4,000 small headers", "GET /healthz HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 4000) + "\r\n"},
		{"32 KiB request line", "GET /healthz?" + strings.Repeat("q", 32<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"header without end", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 2*serverMaxHeaderBytes)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := rawExchange(t, s, tt.head)
			if len(rs) != 1 || rs[0].status != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("responses %v, want one 431", rs)
			}
		})
	}

	t.Run("64 MiB header is not read", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", hostPort(s), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		const total = 64 << 20
		written := make(chan int64, 1)
		go func() {
			_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			n, _ := io.Copy(conn, io.MultiReader(strings.NewReader("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "), io.LimitReader(repeatReader('p'), total)))
			written <- n
		}()
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status = %d, want 431", resp.StatusCode)
		}
		if n := <-written; n >= total {
			t.Errorf("the client wrote all %d bytes: the server kept reading", n)
		} else {
			t.Logf("the server hung up after %d of %d bytes", n, total)
		}
	})
	if r := other.do(t, "GET", "/api/auth/profile", "", bearerHdr(tok)); r.status != http.StatusOK {
		t.Errorf("GET /profile after the attack: status = %d, want 200", r.status)
	}
	checkAlive(t, s, cmd)
	checkLogClean(t, s.Log.String())
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// raiseNoFile raises this process's soft RLIMIT_NOFILE towards want (up to
// the hard limit) and returns the soft limit now in force. The server
// process started afterwards inherits it.
func raiseNoFile(t *testing.T, want uint64) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur < want && lim.Cur < lim.Max {
		lim.Cur = min(want, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Logf("setrlimit NOFILE %d: %v", lim.Cur, err)
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	return lim.Cur
}

// TestConnectionsHeldOpen opens 10,000 connections to the server and holds
// them: 8,000 that made one request and now idle on keep-alive (the server
// keeps those for IdleTimeout, 120 s), 1,000 that stopped in the middle of a
// request header and 1,000 that never sent a byte (both closed by the server
// after ReadHeaderTimeout). While they are open a fresh client must still get
// /healthz and log in, and the server must not fail; when they close, the
// server must let go of them and stay healthy.
//
// 10,000 connections need about that many file descriptors on each side.
// The test raises its soft RLIMIT_NOFILE to the hard limit if it must (the
// server process inherits it); where the hard limit is below 10,000 plus a
// reserve, it uses as many connections as fit and says so in its log. On
// the machine this was written on `ulimit -n` is 20,000 (soft and hard), so
// all 10,000 are opened.
func TestConnectionsHeldOpen(t *testing.T) {
	const want, reserve = 10_000, 512
	limit := raiseNoFile(t, want+reserve)
	n := want
	if limit < want+reserve {
		n = int(limit) - reserve
		if n < 1000 {
			t.Skipf("RLIMIT_NOFILE is %d: too few descriptors for a meaningful test", limit)
		}
		t.Logf("RLIMIT_NOFILE is %d (hard limit): holding %d connections instead of %d", limit, n, want)
	}
	s, cmd := startProcess(t, "", nil)
	other := freshClient(s)
	newUser(t, other, "crowd@example.com")
	before := serverFDs(cmd)
	addr := hostPort(s)

	idle, partial := n*8/10, n/10
	bare := n - idle - partial
	// Each keep-alive connection makes its request as soon as it is open: a
	// connection that sends nothing is closed after ReadHeaderTimeout.
	conns := make([]net.Conn, idle)
	t.Cleanup(func() { closeAll(conns) })
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	d := net.Dialer{Timeout: 10 * time.Second}
	for range 16 {
		wg.Go(func() {
			br := bufio.NewReaderSize(nil, 1024)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) {
					return
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				conns[i] = c
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				br.Reset(c)
				if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
					failed.Add(1)
					continue
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				_ = c.SetDeadline(time.Time{})
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d keep-alive connections could not connect or got no 200 for GET /healthz", f, idle)
	}
	partialConns := dialMany(t, addr, partial)
	for _, c := range partialConns {
		_, _ = io.WriteString(c, "GET /api/auth/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ")
	}
	dialMany(t, addr, bare)
	held := serverFDs(cmd)

	// While they are held: a fresh client is served, and logs in.
	for _, path := range []string{"/healthz", "/readyz", "/api/auth/public-key", "/.well-known/jwks.json"} {
		if r := other.do(t, "GET", path, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s with %d connections open: status = %d, want 200", path, n, r.status)
		}
	}
	tok := other.loginPair(t, "crowd@example.com", goodPassword).AccessToken
	if st := other.profileStatus(t, tok); st != http.StatusOK {
		t.Errorf("GET /profile with %d connections open: status = %d, want 200", n, st)
	}
	if before >= 0 {
		t.Logf("server file descriptors: %d before, %d with the connections open", before, held)
		if held < before+idle {
			t.Errorf("server holds %d descriptors, want at least %d: the keep-alive connections were dropped early", held, before+idle)
		}
	}
	// The keep-alive connections are still served after all that.
	if r := rawOn(t, conns[len(conns)-1]); r != http.StatusOK {
		t.Errorf("GET /healthz on a held keep-alive connection: status = %d, want 200", r)
	}

	closeAll(conns)
	closeAll(partialConns)
	if before >= 0 {
		deadline := time.Now().Add(serverReadHeaderTimeout + closeMargin)
		for serverFDs(cmd) > before+16 {
			if time.Now().After(deadline) {
				t.Errorf("server still holds %d descriptors %v after the clients closed (%d before)", serverFDs(cmd), serverReadHeaderTimeout+closeMargin, before)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	checkAlive(t, s, cmd)
	other.loginPair(t, "crowd@example.com", goodPassword)
	if log := s.Log.String(); strings.Contains(log, "too many open files") {
		t.Errorf("the server ran out of file descriptors:\n%s", tail(log, 10))
	}
	checkLogClean(t, s.Log.String())
}

// rawOn sends GET /healthz on an open connection and returns the status.
func rawOn(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
