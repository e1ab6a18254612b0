package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// scenarioNames lists every scenario in the order a full run measures them.
// The floor is not among them: every run measures it, just before profile.
var scenarioNames = []string{"profile", "profile-invalid", "login", "login-wrong-password", "register", "refresh", "mixed", "overload"}

// options are sealbench's flags.
type options struct {
	url           string
	serverBin     string
	bcryptCost    int
	scenarios     []string
	connections   int // 0: each scenario's default
	overloadConns int
	probeConns    int
	duration      time.Duration
	warmup        time.Duration
	timeout       time.Duration
	settle        time.Duration
	users         int
	maxRequests   int64
	coldStarts    int
	jsonPath      string
	svgPath       string
	outDir        string
	serverEnv     []string
	seedUsers     int
	seedRevoked   int
}

// conns is the number of connections scenario runs with: 64 where the issue's
// targets name 64 (the token checks and the blend), 16 for the bcrypt-bound
// flows, unless --connections says otherwise.
func (o options) conns(scenario string) int {
	switch {
	case scenario == "overload":
		return o.overloadConns
	case o.connections > 0:
		return o.connections
	case scenario == "profile", scenario == "profile-invalid", scenario == "mixed":
		return 64
	default:
		return 16
	}
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sealbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "base URL of a running server on loopback (default: build and start one)")
	fs.StringVar(&o.serverBin, "server-bin", "", "a sealauth binary to start instead of building ./cmd/sealauth")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 12, "BCRYPT_COST of the started server, and the cost the bcrypt limit is measured at")
	scenarios := fs.String("scenarios", strings.Join(scenarioNames, ","), "comma-separated scenarios to run")
	fs.IntVar(&o.connections, "connections", 0, "connections per scenario (default: 64 for profile, profile-invalid and mixed, 16 otherwise)")
	fs.IntVar(&o.overloadConns, "overload-connections", 256, "connections hammering login in the overload scenario")
	fs.IntVar(&o.probeConns, "probe-connections", 4, "connections measuring /profile during the overload scenario")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each scenario")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "client timeout of one request")
	fs.DurationVar(&o.settle, "settle", time.Minute, "longest wait for the server to go idle before a scenario")
	fs.IntVar(&o.users, "users", 16, "users registered and logged in before the scenarios")
	fs.IntVar(&o.seedUsers, "seed-users", 0, "extra users written straight into the started server's SQLite store first (e.g. 1000000), to show that cost does not grow with the user count")
	fs.IntVar(&o.seedRevoked, "seed-revoked", 0, "revoked, unexpired tokens written into the store first (e.g. 100000)")
	fs.Int64Var(&o.maxRequests, "max-requests", 2_000_000, "most requests one scenario may send")
	fs.IntVar(&o.coldStarts, "cold-starts", 5, "cold starts to time after the scenarios (0 skips them)")
	fs.StringVar(&o.jsonPath, "json", "", "write the results as JSON to this file")
	fs.StringVar(&o.svgPath, "svg", "", "write a bar chart of requests/s as SVG to this file")
	fs.StringVar(&o.outDir, "out", "", "write benchmarks.json and benchmarks.svg into this dir and rewrite the figures of its benchmarks.md")
	fs.Func("server-env", "`KEY=VALUE` in the started server's environment (repeatable)", func(s string) error {
		if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
			return errors.New("want KEY=VALUE")
		}
		o.serverEnv = append(o.serverEnv, s)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: sealbench [flags]        load-test sealauth (see docs/benchmarks.md)\n       sealbench floor [flags]  serve the floor (started by sealbench itself)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(scenarioNames, s) {
			return o, fmt.Errorf("unknown scenario %q; the scenarios are %s", s, strings.Join(scenarioNames, ", "))
		}
		if !slices.Contains(o.scenarios, s) {
			o.scenarios = append(o.scenarios, s)
		}
	}
	// Run in the canonical order whatever the flag's order: overload last, so
	// that the backlog it leaves behind disturbs no other scenario.
	slices.SortFunc(o.scenarios, func(a, b string) int {
		return slices.Index(scenarioNames, a) - slices.Index(scenarioNames, b)
	})
	switch {
	case o.url != "" && o.serverBin != "":
		return o, errors.New("give at most one of --url and --server-bin")
	case o.bcryptCost < 4 || o.bcryptCost > 31:
		return o, fmt.Errorf("--bcrypt-cost %d is outside 4..31", o.bcryptCost)
	case o.duration <= 0 || o.warmup < 0 || o.timeout <= 0 || o.settle < 0:
		return o, errors.New("--duration and --timeout must be positive, --warmup and --settle not negative")
	case o.connections < 0 || o.overloadConns < 1 || o.probeConns < 1:
		return o, errors.New("connections must be positive")
	case o.connections > 4096 || o.overloadConns > 4096 || o.probeConns > 4096:
		return o, errors.New("at most 4096 connections per scenario")
	case o.users < 1 || o.users > 10_000:
		return o, errors.New("--users must be in 1..10000")
	case o.maxRequests < 1:
		return o, errors.New("--max-requests must be positive")
	case o.coldStarts < 0 || o.coldStarts > 100:
		return o, errors.New("--cold-starts must be in 0..100")
	}
	if o.url != "" {
		u, err := checkLoopbackURL(o.url)
		if err != nil {
			return o, err
		}
		o.url = u
	}
	return o, nil
}

// checkLoopbackURL accepts only http URLs of this machine: sealbench is a load
// generator and must never be pointed at anyone else's server.
func checkLoopbackURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("--url: %w", err)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return "", fmt.Errorf("--url %q: want http:// on 127.0.0.1, ::1 or localhost", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return "", fmt.Errorf("--url %q: give only the scheme, host and port", s)
	}
	return u.Scheme + "://" + u.Host, nil
}

// run is the whole program; main and the tests call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == "floor" {
		return serveFloor(ctx, args[1:], stderr)
	}
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	rep, err := newHarness(o, getenv, stderr).run(ctx)
	if err != nil {
		return err
	}
	writeText(stdout, rep)
	return writeOutputs(o, rep)
}

// writeOutputs writes the JSON, the SVG and the docs' figures as the flags ask.
func writeOutputs(o options, rep *report) error {
	jsonPath, svgPath := o.jsonPath, o.svgPath
	var mdPath string
	if o.outDir != "" {
		if err := os.MkdirAll(o.outDir, 0o750); err != nil {
			return err
		}
		jsonPath = filepath.Join(o.outDir, "benchmarks.json")
		svgPath = filepath.Join(o.outDir, "benchmarks.svg")
		mdPath = filepath.Join(o.outDir, "benchmarks.md")
	}
	if jsonPath != "" {
		if err := writeFile(jsonPath, rep.jsonBytes()); err != nil {
			return err
		}
	}
	if svgPath != "" {
		if err := writeFile(svgPath, rep.svg()); err != nil {
			return err
		}
	}
	if mdPath != "" {
		return updateDocs(mdPath, rep)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	// #nosec G306 G703 -- a file the caller named by flag; figures for the
	// docs, meant to be committed and read by everyone.
	return os.WriteFile(path, data, 0o644)
}
