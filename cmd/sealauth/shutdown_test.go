package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM to a server process while logins (each a
// real bcrypt at cost 10) are in flight: every request the server had received
// before the signal completes with 200, and the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	s, cmd := startProcess(t, "", map[string]string{"BCRYPT_COST": "10"})
	newUser(t, s, "drain@example.com")
	body := jsonBody(t, map[string]string{"email": "drain@example.com", "password": s.seal(t, goodPassword)})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	type result struct {
		sent   time.Time // when the whole request had been written
		status int
		err    error
	}
	var mu sync.Mutex
	var results []result
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var r result
				trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { r.sent = time.Now() }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", s.URL+"/api/auth/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.status = resp.StatusCode
				}
				r.err = err
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("process exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("process did not exit within 20 s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	s.stop = func() {} // already stopped

	var inFlight, ok int
	for _, r := range results {
		// A request fully sent well before the signal was in the server's hands.
		if r.sent.IsZero() || !r.sent.Before(signalled.Add(-20*time.Millisecond)) {
			continue
		}
		inFlight++
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("request sent %v before SIGTERM: status %d, err %v", signalled.Sub(r.sent), r.status, r.err)
			continue
		}
		ok++
	}
	if inFlight < 4 {
		t.Errorf("only %d requests were in flight at SIGTERM; the test needs some", inFlight)
	}
	t.Logf("%d requests sent before SIGTERM, %d completed with 200", inFlight, ok)
	if !strings.Contains(s.Log.String(), "shutting down") {
		t.Error("no shutdown line in the log")
	}
}
