package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for sealbench when the harness
// starts its floor as `<os.Executable()> floor …`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunEndToEnd builds and starts a real server with cheap bcrypt, runs every
// scenario for about a second, and checks that the figures are sane. It
// asserts nothing about speed.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sealauth and loads it for about 15 s")
	}
	dir := t.TempDir()
	// A docs file with text around the markers, which --out must keep.
	md := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(md, []byte("# Benchmarks\n\nbefore\n"+docsBegin+"\nold figures\n"+docsEnd+"\nafter\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--bcrypt-cost", "4", "--duration", "1s", "--warmup", "200ms", "--users", "3",
		"--connections", "4", "--overload-connections", "12", "--probe-connections", "2",
		"--cold-starts", "2", "--out", dir,
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("\n%s", stdout.String())

	b, err := os.ReadFile(filepath.Join(dir, "benchmarks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("benchmarks.json: %v", err)
	}
	if rep.Bcrypt.LimitRPS <= 0 || rep.Bcrypt.Cost != 4 || rep.RSAOpenMs <= 0 || rep.ProfileBytes <= 0 {
		t.Errorf("reference points = %+v, RSA open %v ms, profile %d bytes; want all positive, cost 4", rep.Bcrypt, rep.RSAOpenMs, rep.ProfileBytes)
	}
	if rep.ColdStart == nil || len(rep.ColdStart.SamplesMs) != 2 || rep.ColdStart.MedianMs <= 0 {
		t.Errorf("cold start = %+v, want 2 positive samples", rep.ColdStart)
	}

	want := append([]string{"floor"}, scenarioNames...)
	if len(rep.Scenarios) != len(want) {
		t.Fatalf("%d scenarios, want %d (%v)", len(rep.Scenarios), len(want), want)
	}
	for i, s := range rep.Scenarios {
		if s.Name != want[i] {
			t.Errorf("scenario %d = %q, want %q", i, s.Name, want[i])
		}
		if !s.Available {
			// Only refresh may be missing, and only with a reason.
			if s.Name != "refresh" || !strings.HasPrefix(s.Note, "unavailable: ") {
				t.Errorf("%s: unavailable (%q)", s.Name, s.Note)
			}
			continue
		}
		if !s.ProcessMeasured || s.ServerCPUSeconds <= 0 || s.PeakRSSMiB <= 0 {
			t.Errorf("%s: process figures: measured %v, CPU %v s, peak RSS %v MiB; want positive", s.Name, s.ProcessMeasured, s.ServerCPUSeconds, s.PeakRSSMiB)
		}
		for _, g := range s.Groups {
			if g.OK <= 0 || g.RPS <= 0 || g.P50Ms <= 0 || g.P50Ms > g.P90Ms || g.P90Ms > g.P99Ms || g.P99Ms > g.MaxMs {
				t.Errorf("%s: ok %d, %v req/s, p50 %v p90 %v p99 %v max %v ms; want positive and ordered", g.Label, g.OK, g.RPS, g.P50Ms, g.P90Ms, g.P99Ms, g.MaxMs)
			}
			switch {
			case g.Label == "overload/login" && onlyThrottled(g.Unexpected):
				// The flood may make the server throttle accounts; that is
				// the server's business, not a fault of the harness.
				t.Logf("%s: %v", g.Label, g.Unexpected)
			case g.Unexpected != nil:
				t.Errorf("%s: unexpected answers %v", g.Label, g.Unexpected)
			}
		}
	}
	for _, label := range []string{"profile", "profile-invalid", "login", "login-wrong-password", "register", "overload/login"} {
		name, group, _ := strings.Cut(label, "/")
		if group == "" {
			group = name
		}
		if _, g := rep.group(name, group); g == nil || g.Ratio <= 0 || g.RatioTo == "" {
			t.Errorf("%s: no ratio (%+v)", label, g)
		}
	}
	if len(rep.Targets) == 0 {
		t.Error("no targets judged")
	}

	if out := stdout.String(); !strings.Contains(out, "scenario") || !strings.Contains(out, "overload/profile") || !strings.Contains(out, "bcrypt limit") {
		t.Errorf("the table lacks its header, a row or the references:\n%s", out)
	}
	doc, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(doc); !strings.HasPrefix(s, "# Benchmarks\n\nbefore\n"+docsBegin) || !strings.HasSuffix(s, docsEnd+"\nafter\n") ||
		strings.Contains(s, "old figures") || !strings.Contains(s, "| login-wrong-password |") {
		t.Errorf("benchmarks.md was not rewritten between the markers:\n%s", s)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "benchmarks.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(svg); err != nil {
		t.Errorf("benchmarks.svg: %v", err)
	}
}

func onlyThrottled(unexpected map[string]int64) bool {
	for status := range unexpected {
		if status != "429" {
			return false
		}
	}
	return true
}

func wellFormed(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 10_000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{q: 0.5, want: 5 * time.Millisecond},
		{q: 0.9, want: 9 * time.Millisecond},
		{q: 0.99, want: 9900 * time.Microsecond},
		{q: 1, want: 10 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff < -0.01 || diff > 0.01 {
			t.Errorf("quantile(%v) = %v, want %v ± 1%%", tt.q, got, tt.want)
		}
	}
	if got := newHistogram().quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every bucket's range must hold exactly the values that map to it, and
	// the ranges must tile 0..histMax without gaps.
	var next time.Duration
	for i := range histBuckets {
		lower, width := bucketRange(i)
		if lower != next {
			t.Fatalf("bucket %d starts at %v, want %v", i, lower, next)
		}
		if i < histBuckets-1 && (bucketOf(lower) != i || bucketOf(lower+width-1) != i) {
			t.Fatalf("bucket %d = [%v, %v): bucketOf gives %d and %d", i, lower, lower+width, bucketOf(lower), bucketOf(lower+width-1))
		}
		next = lower + width
	}
	if got := bucketOf(time.Hour); got != histBuckets-1 {
		t.Errorf("bucketOf(1h) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestCheckLoopbackURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{in: "http://127.0.0.1:8000", want: "http://127.0.0.1:8000", ok: true},
		{in: "http://localhost:8000/", want: "http://localhost:8000", ok: true},
		{in: "http://[::1]:8000", want: "http://[::1]:8000", ok: true},
		{in: "http://10.0.0.1:8000"},
		{in: "https://127.0.0.1:8000"},
		{in: "http://example.com"},
		{in: "http://127.0.0.1:8000/api"},
	}
	for _, tt := range tests {
		got, err := checkLoopbackURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("checkLoopbackURL(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFloorBody(t *testing.T) {
	for _, n := range []int{11, 121, 4096} {
		b := floorBody(n)
		if len(b) != n || !json.Valid(b) {
			t.Errorf("floorBody(%d) = %d bytes, valid JSON %v", n, len(b), json.Valid(b))
		}
	}
}

func TestCorruptSignature(t *testing.T) {
	tok := "aaa.bbb.cccccccc"
	got := corruptSignature(tok)
	if len(got) != len(tok) || got == tok || got[:8] != tok[:8] {
		t.Errorf("corruptSignature(%q) = %q; want one signature character changed", tok, got)
	}
}
