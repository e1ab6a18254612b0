package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// window is the measured part of a scenario: requests that complete in
// [t0, t1] count; earlier ones are warm-up, later ones are "late".
type window struct{ t0, t1 time.Time }

// group is a set of workers sending the same kind of request: most scenarios
// have one; overload and mixed have several.
type group struct {
	name  string
	conns int
	base  string
	act   func(*worker, context.Context) // a method expression such as (*worker).profile
	want  int                            // the status every answer should have
	// flood marks the overload flood. Its workers ignore Retry-After, as an
	// abusive client would, and take 503 for a right answer, though not one
	// counted in req/s: the server is expected to shed what it cannot do.
	// Other workers are well-behaved clients: after a 429 or 503 they wait as
	// long as Retry-After says (at most 10 s, and not past the window).
	flood bool
}

// stats is what one worker, or a group, saw.
type stats struct {
	hist     *histogram
	ok       int64            // answers with the wanted status
	statuses map[string]int64 // HTTP status, "timeout" or "error" → count
	late     int64            // completed after the window closed; not counted
}

func newStats() stats { return stats{hist: newHistogram(), statuses: map[string]int64{}} }

func (s *stats) merge(o *stats) {
	s.hist.merge(o.hist)
	s.ok += o.ok
	s.late += o.late
	for k, n := range o.statuses {
		s.statuses[k] += n
	}
}

// worker is one closed-loop client with its own keep-alive connection: it
// sends a request, reads the whole answer, and sends the next.
type worker struct {
	client *http.Client
	base   string
	bearer string // the profile requests' token
	want   int
	flood  bool
	fx     *fixture
	win    window
	stats  stats
	buf    bytes.Buffer
}

// newClient is a client that keeps exactly one connection open, as a browser
// tab or a service's connection pool of one would.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes one request and records it; it returns the status (0 if there
// was no answer) and the body, valid until the next send.
func (w *worker) send(ctx context.Context, method, path, bearer string, body []byte) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		w.record(ctx, time.Now(), 0, err)
		return 0, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", bearer)
	}
	w.buf.Reset()
	start := time.Now()
	resp, err := w.client.Do(req)
	status, retryAfter := 0, ""
	if err == nil {
		_, err = w.buf.ReadFrom(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		status, retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	w.record(ctx, start, status, err)
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && !w.flood {
		w.backOff(ctx, retryAfter)
	}
	return status, w.buf.Bytes()
}

// backOff waits as long as a Retry-After of whole seconds says (1 s if it
// says nothing usable), at most 10 s and not past the end of the window.
func (w *worker) backOff(ctx context.Context, retryAfter string) {
	d := time.Second
	if n, err := strconv.Atoi(retryAfter); err == nil && n >= 0 {
		d = time.Duration(min(n, 10)) * time.Second
	}
	t := time.NewTimer(min(d, time.Until(w.win.t1)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (w *worker) record(ctx context.Context, start time.Time, status int, err error) {
	end := time.Now()
	s := &w.stats
	switch {
	case ctx.Err() != nil || end.Before(w.win.t0):
		return // interrupted, or warm-up
	case end.After(w.win.t1):
		s.late++
		return
	}
	var ne net.Error
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()):
		s.statuses["timeout"]++
	case err != nil:
		s.statuses["error"]++
	default:
		s.statuses[strconv.Itoa(status)]++
		s.hist.record(end.Sub(start))
		if status == w.want {
			s.ok++
		}
	}
}

// scenarioRun is the raw outcome of running groups in one window.
type scenarioRun struct {
	win     window
	workers [][]*worker // per group
	usage   usage
}

// runGroups runs every group's workers from now until the window closes,
// while monitoring process pid (0: none), and waits for them to finish.
func runGroups(ctx context.Context, groups []group, fx *fixture, o options, pid int) scenarioRun {
	start := time.Now()
	win := window{t0: start.Add(o.warmup), t1: start.Add(o.warmup + o.duration)}
	var (
		wg     sync.WaitGroup
		issued atomic.Int64
	)
	all := make([][]*worker, len(groups))
	for gi, g := range groups {
		for i := range g.conns {
			w := &worker{client: newClient(o.timeout), base: g.base, bearer: fx.users[i%len(fx.users)].bearer,
				want: g.want, flood: g.flood, fx: fx, win: win, stats: newStats()}
			all[gi] = append(all[gi], w)
			wg.Go(func() {
				defer w.client.CloseIdleConnections()
				for ctx.Err() == nil && time.Now().Before(win.t1) && issued.Add(1) <= o.maxRequests {
					g.act(w, ctx)
				}
			})
		}
	}
	u := monitor(ctx, pid, win)
	wg.Wait()
	return scenarioRun{win: win, workers: all, usage: u}
}

// usage is what the processes used during a window.
type usage struct {
	serverCPU  time.Duration // the measured process: the server, or the floor
	clientCPU  time.Duration // this process, the load generator
	machineCPU time.Duration // every core's busy time, whoever used it
	peakRSS    int64         // the largest VmRSS sampled, every 100 ms, from the start of warm-up
}

// monitor samples process pid's memory every 100 ms until the window closes
// and takes its CPU time, and this process's, at both ends of the window.
func monitor(ctx context.Context, pid int, win window) usage {
	var u usage
	sample := func() {
		if pid == 0 {
			return
		}
		if rss, err := procMem(pid, "VmRSS"); err == nil {
			u.peakRSS = max(u.peakRSS, rss)
		}
	}
	var cpu, self, busy [2]time.Duration
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sample()
	for i, at := range []time.Time{win.t0, win.t1} {
		timer := time.NewTimer(time.Until(at))
	wait:
		for {
			select {
			case <-tick.C:
				sample()
			case <-timer.C:
				break wait
			case <-ctx.Done():
				timer.Stop()
				return u
			}
		}
		if pid != 0 {
			cpu[i], _ = procCPU(pid)
		}
		self[i], _ = procCPU(os.Getpid())
		busy[i], _ = machineCPU()
	}
	sample()
	u.serverCPU = cpu[1] - cpu[0]
	u.clientCPU = self[1] - self[0]
	u.machineCPU = busy[1] - busy[0]
	return u
}

// settle waits, at most limit, until process pid uses less than 5% of a core,
// so that one scenario's backlog (bcrypt work for requests its clients gave
// up on) is not billed to the next. It returns how long it waited and whether
// the process went quiet.
func settle(ctx context.Context, pid int, limit time.Duration) (time.Duration, bool) {
	const every = 400 * time.Millisecond
	start := time.Now()
	prev, err := procCPU(pid)
	for err == nil && time.Since(start) < limit {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(every):
		}
		var cur time.Duration
		if cur, err = procCPU(pid); err == nil && cur-prev <= every/20 {
			return time.Since(start), true
		}
		prev = cur
	}
	return time.Since(start), false
}
