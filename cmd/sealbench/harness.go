package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// harness runs one benchmark: it owns the server and floor processes it
// starts and the fixture the scenarios share.
type harness struct {
	opts   options
	getenv func(string) string
	log    io.Writer
	fx     *fixture
	server *child // nil when --url names a running server
	floor  *child
}

func newHarness(o options, getenv func(string) string, log io.Writer) *harness {
	return &harness{opts: o, getenv: getenv, log: log}
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "sealbench: "+format+"\n", args...)
}

// run measures everything the options ask for and returns the report.
func (h *harness) run(ctx context.Context) (*report, error) {
	o := h.opts
	rep := &report{Started: time.Now().UTC().Truncate(time.Second), Machine: readMachine(), Config: newRunConfig(o)}
	tmp, err := os.MkdirTemp("", "sealbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	base, bin, dataDir := o.url, o.serverBin, filepath.Join(tmp, "data")
	if base == "" {
		if bin == "" {
			h.logf("building ./cmd/sealauth")
			if bin, err = buildServer(ctx, tmp); err != nil {
				return nil, err
			}
		}
		if o.seedUsers > 0 || o.seedRevoked > 0 {
			h.logf("seeding %d users and %d revoked tokens into the store", o.seedUsers, o.seedRevoked)
			if err := seedStore(ctx, dataDir, o.seedUsers, o.seedRevoked); err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
		}
		if h.server, err = h.startServer(ctx, bin, tmp, dataDir); err != nil {
			return nil, err
		}
		defer h.server.stop()
		base = h.server.base
	}

	users := o.users
	if slices.Contains(o.scenarios, "overload") {
		// At most 8 of the flood's logins in flight per account (see login).
		users = max(users, (o.overloadConns+7)/8)
	}
	rep.Config.Users = users
	h.logf("registering and logging in %d users at %s (bcrypt cost %d)", users, base, o.bcryptCost)
	chains := 0
	if slices.Contains(o.scenarios, "refresh") || slices.Contains(o.scenarios, "mixed") {
		chains = max(o.conns("refresh"), 8)
	}
	if h.fx, err = prepare(ctx, base, users, chains); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	rep.ProfileBytes = h.fx.profileSize
	rep.ClientSealMs = ms(h.fx.sealTime)

	if h.server != nil {
		settle(ctx, h.server.pid(), o.settle)
	}
	h.logf("timing bcrypt at cost %d and RSA-OAEP opening", o.bcryptCost)
	if rep.Bcrypt, err = measureBcrypt(o.bcryptCost, runtime.GOMAXPROCS(0)); err != nil {
		return nil, err
	}
	if rep.RSAOpenMs, err = measureRSAOpen(h.fx.pub.N.BitLen()); err != nil {
		return nil, err
	}

	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	h.floor, err = startChild("floor", exe, []string{"floor", "--size", strconv.Itoa(h.fx.profileSize)}, h.childEnv(), tmp)
	if err != nil {
		return nil, err
	}
	defer h.floor.stop()
	if _, err := h.floor.waitReady(ctx, "/healthz", h.floor.started, 30*time.Second); err != nil {
		return nil, err
	}

	for _, name := range append([]string{"floor"}, o.scenarios...) {
		rep.Scenarios = append(rep.Scenarios, h.scenario(ctx, name))
		if name == "floor" {
			h.floor.stop()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}

	if h.server != nil {
		if hwm, err := procMem(h.server.pid(), "VmHWM"); err == nil {
			rep.ServerHWMMiB = mib(hwm)
		}
		h.server.stop()
		if o.coldStarts > 0 {
			h.logf("timing %d cold starts", o.coldStarts)
			if rep.ColdStart, err = h.coldStarts(ctx, bin, tmp, dataDir); err != nil {
				return nil, err
			}
		}
	}
	rep.finish(o)
	return rep, nil
}

// scenario runs one scenario after letting the server go idle.
func (h *harness) scenario(ctx context.Context, name string) scenarioResult {
	groups, note := h.groups(name)
	if groups == nil {
		h.logf("%s: %s", name, note)
		return scenarioResult{Name: name, Note: note}
	}
	pid := 0
	switch {
	case name == "floor":
		pid = h.floor.pid()
	case h.server != nil:
		pid = h.server.pid()
	}
	if pid != 0 {
		waited, quiet := settle(ctx, pid, h.opts.settle)
		switch {
		case !quiet:
			note = fmt.Sprintf("the server was still busy after waiting %v for it to go idle", waited.Round(time.Second))
			h.logf("%s: %s", name, note)
		case waited > time.Second:
			h.logf("%s: waited %v for the server to go idle", name, waited.Round(100*time.Millisecond))
		}
	}
	var conns []string
	for _, g := range groups {
		conns = append(conns, fmt.Sprintf("%d %s", g.conns, g.name))
	}
	h.logf("%s: %s connections, %v warm-up + %v", name, strings.Join(conns, " + "), h.opts.warmup, h.opts.duration)
	res := summarize(name, groups, runGroups(ctx, groups, h.fx, h.opts, pid), pid != 0)
	res.Note = note
	return res
}

// childEnv is the environment of a started process: only the Go runtime's
// knobs, if set here, and extra, so that nothing else (a DATABASE_URL, a
// JWT_SECRET) in the caller's environment changes the server.
func (h *harness) childEnv(extra ...string) []string {
	var env []string
	for _, k := range []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG", "TMPDIR"} {
		if v := h.getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// serverEnv is the started server's configuration besides BCRYPT_COST:
// logging at warn level, so that access-log lines cost nothing, and the
// per-address rate limits off, since all the load comes from 127.0.0.1 and
// they would rightly stop it. --server-env adds to it and overrides it.
var serverEnv = []string{
	"LOG_LEVEL=warn",
	"RATE_LIMIT_LOGIN_PER_IP=off",
	"RATE_LIMIT_REGISTER_PER_IP=off",
	"RATE_LIMIT_REFRESH_PER_IP=off",
	"RATE_LIMIT_PUBLIC_KEY_PER_IP=off",
}

// spawnServer starts `sealauth serve` on dataDir and returns at once.
func (h *harness) spawnServer(bin, dir, dataDir string) (*child, error) {
	env := append([]string{"BCRYPT_COST=" + strconv.Itoa(h.opts.bcryptCost)}, serverEnv...)
	env = h.childEnv(append(env, h.opts.serverEnv...)...) // for a key set twice, exec uses the last
	return startChild("sealauth", bin, []string{"serve", "--data-dir", dataDir}, env, dir)
}

// startServer spawns the server and waits until it answers /healthz.
func (h *harness) startServer(ctx context.Context, bin, dir, dataDir string) (*child, error) {
	c, err := h.spawnServer(bin, dir, dataDir)
	if err != nil {
		return nil, err
	}
	// The first start generates an RSA key, which may take a while.
	if _, err := c.waitReady(ctx, "/healthz", c.started, time.Minute); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// coldStarts times starting the server on an existing data dir until its
// first answered /healthz, from just before the process is created.
func (h *harness) coldStarts(ctx context.Context, bin, dir, dataDir string) (*coldStart, error) {
	cs := &coldStart{}
	var samples []time.Duration
	for range h.opts.coldStarts {
		c, err := h.spawnServer(bin, dir, dataDir)
		if err != nil {
			return nil, err
		}
		d, err := c.waitReady(ctx, "/healthz", c.started, time.Minute)
		c.stop()
		if err != nil {
			return nil, err
		}
		samples = append(samples, d)
		cs.SamplesMs = append(cs.SamplesMs, ms(d))
	}
	cs.MedianMs = ms(median(samples))
	return cs, nil
}

// buildServer builds ./cmd/sealauth into dir. It names the package by its
// import path, so it works from any directory inside the module.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "sealauth")
	// #nosec G204 -- a fixed command line; dir is our own temporary directory.
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/sealauth/sealauth/cmd/sealauth").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/sealauth (run sealbench inside the module, or pass --server-bin or --url): %w\n%s", err, out)
	}
	return bin, nil
}

// measureBcrypt times bcrypt comparisons at cost, at least 5 and for about a
// second, on one goroutine locked to its thread. The limit is cores ÷ the
// median CPU time of one comparison: what the machine could do if every core
// did nothing but compare. CPU time rather than wall time, so that other jobs
// on a shared machine do not lower the limit; the wall time is reported too.
func measureBcrypt(cost, cores int) (bcryptLimit, error) {
	pw := []byte("sealbench bcrypt probe")
	hash, err := bcrypt.GenerateFromPassword(pw, cost)
	if err != nil {
		return bcryptLimit{}, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wall, cpu []time.Duration
	until := time.Now().Add(time.Second)
	for len(wall) < 5 || len(wall) < 101 && time.Now().Before(until) {
		start := time.Now()
		cpu0, ok0 := threadCPU()
		if err := bcrypt.CompareHashAndPassword(hash, pw); err != nil {
			return bcryptLimit{}, err
		}
		cpu1, ok1 := threadCPU()
		wall = append(wall, time.Since(start))
		if ok0 && ok1 {
			cpu = append(cpu, cpu1-cpu0)
		}
	}
	b := bcryptLimit{Cost: cost, Samples: len(wall), Cores: cores, CompareWallMs: ms(median(wall)), CompareMs: ms(median(wall))}
	if len(cpu) == len(wall) && median(cpu) > 0 {
		b.CompareMs = ms(median(cpu))
	}
	b.LimitRPS = float64(cores) * 1000 / b.CompareMs
	return b, nil
}

// measureRSAOpen times RSA-OAEP-SHA256 decryption, which the server does once
// per login and register, with a key of the server's size: the median of 21.
func measureRSAOpen(bits int) (float64, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return 0, err
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, []byte("sealbench probe"), nil)
	if err != nil {
		return 0, err
	}
	samples := make([]time.Duration, 21)
	for i := range samples {
		start := time.Now()
		if _, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil); err != nil {
			return 0, err
		}
		samples[i] = time.Since(start)
	}
	return ms(median(samples)), nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// readMachine describes the machine from the runtime and /proc.
func readMachine() machine {
	m := machine{CPUModel: "unknown", Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }
