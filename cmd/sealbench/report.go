package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is everything one run measured; it is what --json writes.
type report struct {
	Started      time.Time        `json:"started"`
	Machine      machine          `json:"machine"`
	Config       runConfig        `json:"config"`
	Bcrypt       bcryptLimit      `json:"bcrypt"`
	RSAOpenMs    float64          `json:"rsa_open_ms"`    // one RSA-OAEP-SHA256 decryption, as the server does per login
	ClientSealMs float64          `json:"client_seal_ms"` // one sealing, as the client does per login
	ProfileBytes int              `json:"profile_body_bytes"`
	ColdStart    *coldStart       `json:"cold_start,omitempty"`
	ServerHWMMiB float64          `json:"server_vmhwm_mib,omitempty"` // the server's peak RSS over the whole run
	Scenarios    []scenarioResult `json:"scenarios"`
	Targets      []target         `json:"targets"`
}

type machine struct {
	CPUModel   string `json:"cpu_model"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Kernel     string `json:"kernel,omitempty"`
	GoVersion  string `json:"go_version"`
}

type runConfig struct {
	Server      string  `json:"server"` // "started" or the --url
	BcryptCost  int     `json:"bcrypt_cost"`
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	TimeoutS    float64 `json:"timeout_s"`
	Users       int     `json:"users"`
	MaxRequests int64   `json:"max_requests"`
}

func newRunConfig(o options) runConfig {
	c := runConfig{Server: "started", BcryptCost: o.bcryptCost, DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(),
		TimeoutS: o.timeout.Seconds(), Users: o.users, MaxRequests: o.maxRequests}
	if o.url != "" {
		c.Server = o.url
	}
	return c
}

// bcryptLimit is the most logins (or registrations) per second the machine
// could do: cores ÷ the time of one bcrypt comparison.
type bcryptLimit struct {
	Cost          int     `json:"cost"`
	CompareMs     float64 `json:"compare_ms"`      // median CPU time (wall time where CPU time is unknown)
	CompareWallMs float64 `json:"compare_wall_ms"` // median wall time
	Samples       int     `json:"samples"`
	Cores         int     `json:"cores"`
	LimitRPS      float64 `json:"limit_rps"`
}

type coldStart struct {
	MedianMs  float64   `json:"median_ms"`
	SamplesMs []float64 `json:"samples_ms"`
}

type scenarioResult struct {
	Name      string  `json:"name"`
	Available bool    `json:"available"`
	Note      string  `json:"note,omitempty"`
	DurationS float64 `json:"duration_s,omitempty"`
	// The process figures: of the server, or of the floor in the floor
	// scenario. ProcessMeasured is false with --url.
	ProcessMeasured  bool    `json:"process_measured"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	CPUPerRequestMs  float64 `json:"server_cpu_ms_per_request"` // per answer of any status
	CPUPerOKMs       float64 `json:"server_cpu_ms_per_ok"`      // per answer with the wanted status
	PeakRSSMiB       float64 `json:"peak_rss_mib"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds"` // the load generator's own
	// OtherCPUSeconds is the CPU time every other process on the machine used
	// during the window: the noise of a shared machine.
	OtherCPUSeconds float64       `json:"other_cpu_seconds"`
	Groups          []groupResult `json:"groups"`
}

type groupResult struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Connections int    `json:"connections"`
	// Requests counts every request that completed in the window; OK those
	// with the expected status. RPS is OK per second.
	Requests   int64            `json:"requests"`
	OK         int64            `json:"ok"`
	RPS        float64          `json:"rps"`
	P50Ms      float64          `json:"p50_ms"`
	P90Ms      float64          `json:"p90_ms"`
	P99Ms      float64          `json:"p99_ms"`
	MaxMs      float64          `json:"max_ms"`
	Statuses   map[string]int64 `json:"statuses"`
	Unexpected map[string]int64 `json:"unexpected,omitempty"`
	Late       int64            `json:"late"` // completed after the window closed; not counted
	Ratio      float64          `json:"ratio,omitempty"`
	RatioTo    string           `json:"ratio_to,omitempty"`
}

// target is one of the targets with what this run measured.
type target struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // "met", "not met", "other setup", "not measured" or "info"
}

// summarize merges the workers' counts into one result per group.
func summarize(name string, groups []group, r scenarioRun, measured bool) scenarioResult {
	dur := r.win.t1.Sub(r.win.t0).Seconds()
	res := scenarioResult{Name: name, Available: true, DurationS: dur, ProcessMeasured: measured,
		ClientCPUSeconds: r.usage.clientCPU.Seconds()}
	var total, ok int64
	for gi, g := range groups {
		st := newStats()
		for _, w := range r.workers[gi] {
			st.merge(&w.stats)
		}
		gr := groupResult{Name: g.name, Label: name, Connections: g.conns, Statuses: st.statuses, OK: st.ok, Late: st.late,
			RPS: float64(st.ok) / dur, P50Ms: ms(st.hist.quantile(0.5)), P90Ms: ms(st.hist.quantile(0.9)),
			P99Ms: ms(st.hist.quantile(0.99)), MaxMs: ms(st.hist.max)}
		if len(groups) > 1 {
			gr.Label = name + "/" + g.name
		}
		for status, n := range st.statuses {
			gr.Requests += n
			if status != strconv.Itoa(g.want) && (!g.flood || status != "503") {
				if gr.Unexpected == nil {
					gr.Unexpected = map[string]int64{}
				}
				gr.Unexpected[status] = n
			}
		}
		total += gr.Requests
		ok += gr.OK
		res.Groups = append(res.Groups, gr)
	}
	if measured {
		res.ServerCPUSeconds = r.usage.serverCPU.Seconds()
		res.PeakRSSMiB = mib(r.usage.peakRSS)
		if total > 0 {
			res.CPUPerRequestMs = ms(r.usage.serverCPU) / float64(total)
		}
		if ok > 0 {
			res.CPUPerOKMs = ms(r.usage.serverCPU) / float64(ok)
		}
		// Whatever else ran on the machine meanwhile: other jobs, and the
		// idle sealauth server during the floor.
		res.OtherCPUSeconds = max(0, (r.usage.machineCPU - r.usage.serverCPU - r.usage.clientCPU).Seconds())
	}
	return res
}

// group returns the result of a scenario's group, or nil.
func (r *report) group(scenario, name string) (*scenarioResult, *groupResult) {
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if s.Name != scenario || !s.Available {
			continue
		}
		for j := range s.Groups {
			if s.Groups[j].Name == name {
				return s, &s.Groups[j]
			}
		}
	}
	return nil, nil
}

// finish sets the ratios and judges the targets.
func (r *report) finish(o options) {
	_, floor := r.group("floor", "floor")
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		for j := range s.Groups {
			g := &s.Groups[j]
			switch g.Label {
			case "profile", "profile-invalid":
				if floor != nil && floor.RPS > 0 {
					g.Ratio, g.RatioTo = g.RPS/floor.RPS, "floor"
				}
			case "login", "login-wrong-password", "register", "overload/login":
				if r.Bcrypt.LimitRPS > 0 {
					g.Ratio, g.RatioTo = g.RPS/r.Bcrypt.LimitRPS, "bcrypt limit"
				}
			}
		}
	}
	r.Targets = r.targets(o)
}

func (r *report) targets(o options) []target {
	var ts []target
	add := func(name, measured, status string) { ts = append(ts, target{name, measured, status}) }
	// judge says whether a target is met, if the run was set up as the
	// target says (connections, bcrypt cost); otherwise "other setup".
	judge := func(ok, setup bool) string {
		switch {
		case !setup:
			return "other setup"
		case ok:
			return "met"
		}
		return "not met"
	}
	defaultCost := r.Bcrypt.Cost == 12
	missing := func(name string) { add(name, "—", "not measured") }
	conds := func(conns int) string {
		return fmt.Sprintf("%d connections, bcrypt cost %d", conns, r.Bcrypt.Cost)
	}

	const profileTarget = "/profile ≥ 0.7× floor at 64 connections"
	if s, g := r.group("profile", "profile"); g != nil && g.RatioTo == "floor" {
		m := fmt.Sprintf("%.2f× (%s vs %s req/s, %d connections)", g.Ratio, fmtRPS(g.RPS), fmtRPS(g.RPS/g.Ratio), g.Connections)
		if fl, _ := r.group("floor", "floor"); fl != nil && fl.CPUPerRequestMs > 0 && s.CPUPerRequestMs > 0 {
			m += fmt.Sprintf("; by server CPU per request %.2f× (%s vs %s)", fl.CPUPerRequestMs/s.CPUPerRequestMs, fmtMs(s.CPUPerRequestMs), fmtMs(fl.CPUPerRequestMs))
		}
		add(profileTarget, m, judge(g.Ratio >= 0.7, g.Connections == 64))
		if s.ProcessMeasured {
			add("server peak RSS during /profile ≤ 64 MiB", fmt.Sprintf("%.1f MiB", s.PeakRSSMiB), judge(s.PeakRSSMiB <= 64, g.Connections == 64))
		} else {
			missing("server peak RSS during /profile ≤ 64 MiB")
		}
	} else {
		missing(profileTarget)
		missing("server peak RSS during /profile ≤ 64 MiB")
	}
	for _, name := range []string{"login", "register"} {
		t := name + " ≥ 0.9× bcrypt limit at 16 connections, default cost"
		if s, g := r.group(name, name); g != nil && g.RatioTo != "" {
			m := fmt.Sprintf("%.2f× (%s vs %s req/s; %s)", g.Ratio, fmtRPS(g.RPS), fmtRPS(r.Bcrypt.LimitRPS), conds(g.Connections))
			if s.CPUPerOKMs > 0 {
				m += fmt.Sprintf("; by server CPU %.2f× (%s per successful %s, rejected ones included, vs %s per compare)", r.Bcrypt.CompareMs/s.CPUPerOKMs, fmtMs(s.CPUPerOKMs), name, fmtMs(r.Bcrypt.CompareMs))
			}
			add(t, m, judge(g.Ratio >= 0.9, g.Connections == 16 && defaultCost))
		} else {
			missing(t)
		}
	}
	const rsaTarget = "RSA opening ≤ 5% of login CPU time"
	if s, g := r.group("login", "login"); g != nil && s.CPUPerOKMs > 0 {
		share := r.RSAOpenMs / s.CPUPerOKMs
		add(rsaTarget, fmt.Sprintf("%.1f%% (%s of %s server CPU per successful login; estimate)", 100*share, fmtMs(r.RSAOpenMs), fmtMs(s.CPUPerOKMs)), judge(share <= 0.05, defaultCost))
	} else {
		missing(rsaTarget)
	}
	const overloadTarget = "overload: /profile p99 < 50 ms while login is hammered"
	if s, probe := r.group("overload", "profile"); probe != nil {
		_, flood := r.group("overload", "login")
		add(overloadTarget, fmt.Sprintf("p99 %s (%d login + %d /profile connections)", fmtMs(probe.P99Ms), flood.Connections, probe.Connections),
			judge(probe.P99Ms > 0 && probe.P99Ms < 50 && probe.Unexpected == nil, flood.Connections >= 256))
		add("overload: every login answered 200 or a fast 503, within the client timeout",
			fmt.Sprintf("%s in %.0f s; p99 %s", fmtStatuses(flood.Statuses), s.DurationS, fmtMs(flood.P99Ms)),
			judge(flood.Unexpected == nil, flood.Connections >= 256))
		if s.ProcessMeasured {
			add("overload: memory stays bounded", fmt.Sprintf("peak RSS %.1f MiB", s.PeakRSSMiB), "info")
		}
	} else {
		missing(overloadTarget)
	}
	if r.ColdStart != nil {
		add("cold start ≤ 200 ms to the first /healthz", fmt.Sprintf("%s (median of %d)", fmtMs(r.ColdStart.MedianMs), len(r.ColdStart.SamplesMs)), judge(r.ColdStart.MedianMs <= 200, true))
	} else {
		missing("cold start ≤ 200 ms to the first /healthz")
	}
	add("/profile and login within 10% from 1,000 to 1,000,000 users and with 100,000 revoked tokens", "—", "not measured")
	return ts
}

func (r *report) jsonBytes() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // only our own types: a bug
	}
	return append(b, '\n')
}

// fmtRPS writes a rate with three significant digits or a thousands separator.
func fmtRPS(v float64) string {
	switch {
	case v >= 1000:
		return fmtCount(int64(math.Round(v)))
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// fmtCount writes n with thousands separators.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtMs(v float64) string {
	switch {
	case v <= 0:
		return "—"
	case v < 0.01:
		return fmt.Sprintf("%.1f µs", v*1000)
	case v < 1:
		return fmt.Sprintf("%.0f µs", v*1000)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.2f s", v/1000)
	}
}

// fmtStatuses writes counts by status, most frequent first: "200×1,234 503×56".
func fmtStatuses(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"×"+fmtCount(m[k]))
	}
	return strings.Join(parts, " ")
}

func (g *groupResult) ratioText() string {
	if g.RatioTo == "" {
		return ""
	}
	return fmt.Sprintf("%.2f× %s", g.Ratio, g.RatioTo)
}
