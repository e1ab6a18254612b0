package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// row is one line of the figures table: a group of a scenario, with the
// scenario's process figures on its first group only.
type row struct {
	label, conns, rps, p50, p90, p99, errors, cpu, cpuPerReq, rss, client, other, ratio string
}

func (r *report) rows() []row {
	var rows []row
	for _, s := range r.Scenarios {
		if !s.Available {
			rows = append(rows, row{label: s.Name, conns: "—", rps: s.Note})
			continue
		}
		for i, g := range s.Groups {
			rw := row{label: g.Label, conns: fmt.Sprint(g.Connections), rps: fmtRPS(g.RPS),
				p50: fmtMs(g.P50Ms), p90: fmtMs(g.P90Ms), p99: fmtMs(g.P99Ms), errors: "0", ratio: g.ratioText()}
			if g.Unexpected != nil {
				rw.errors = fmtStatuses(g.Unexpected)
			}
			if i == 0 && s.ProcessMeasured {
				rw.cpu = fmt.Sprintf("%.2f s", s.ServerCPUSeconds)
				rw.cpuPerReq = fmtMs(s.CPUPerRequestMs)
				rw.rss = fmt.Sprintf("%.1f MiB", s.PeakRSSMiB)
				rw.other = fmt.Sprintf("%.2f s", s.OtherCPUSeconds)
			}
			if i == 0 {
				rw.client = fmt.Sprintf("%.2f s", s.ClientCPUSeconds)
			}
			rows = append(rows, rw)
		}
	}
	return rows
}

var rowHeader = row{"scenario", "conns", "req/s", "p50", "p90", "p99", "errors", "server CPU", "CPU/req", "peak RSS", "client CPU", "other CPU", "ratio"}

func (rw row) cells() []string {
	return []string{rw.label, rw.conns, rw.rps, rw.p50, rw.p90, rw.p99, rw.errors, rw.cpu, rw.cpuPerReq, rw.rss, rw.client, rw.other, rw.ratio}
}

// references are the lines that explain the ratios.
func (r *report) references() []string {
	var lines []string
	if _, g := r.group("floor", "floor"); g != nil {
		lines = append(lines, fmt.Sprintf("floor: a bare net/http server (a child process) answering the same requests with a %d-byte JSON body: %s req/s at %d connections",
			r.ProfileBytes, fmtRPS(g.RPS), g.Connections))
	}
	b := r.Bcrypt
	lines = append(lines,
		fmt.Sprintf("bcrypt limit: %d cores ÷ %s of CPU per compare at cost %d (median of %d; %s wall) = %s req/s", b.Cores, fmtMs(b.CompareMs), b.Cost, b.Samples, fmtMs(b.CompareWallMs), fmtRPS(b.LimitRPS)),
		fmt.Sprintf("RSA-OAEP-SHA256 opening (server side, per login and register): %s; sealing (client side, done before the timed window): %s", fmtMs(r.RSAOpenMs), fmtMs(r.ClientSealMs)))
	if r.ColdStart != nil {
		var s []string
		for _, v := range r.ColdStart.SamplesMs {
			s = append(s, fmtMs(v))
		}
		lines = append(lines, fmt.Sprintf("cold start on an existing data dir to the first answered /healthz: %s median (%s)", fmtMs(r.ColdStart.MedianMs), strings.Join(s, ", ")))
	}
	if r.ServerHWMMiB > 0 {
		lines = append(lines, fmt.Sprintf("server peak RSS over the whole run (VmHWM): %.1f MiB", r.ServerHWMMiB))
	}
	return lines
}

func (r *report) machineLine() string {
	m := r.Machine
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s %s, %s", m.CPUModel, m.Cores, m.GOMAXPROCS, m.OS, m.Arch, m.Kernel, m.GoVersion)
}

// writeText prints the figures for a terminal.
func writeText(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nsealbench %s — %s\n", r.Started.Format("2006-01-02 15:04 MST"), r.machineLine())
	fmt.Fprintf(w, "%g s per scenario after %g s warm-up; bcrypt cost %d; server: %s\n\n", r.Config.DurationS, r.Config.WarmupS, r.Config.BcryptCost, r.Config.Server)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, rw := range append([]row{rowHeader}, r.rows()...) {
		fmt.Fprintln(tw, strings.Join(rw.cells(), "\t")+"\t")
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, l := range r.references() {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, "\ntargets:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Status, t.Target, t.Measured)
	}
	_ = tw.Flush()
}

// Markers around the part of docs/benchmarks.md that --out rewrites.
const (
	docsBegin = "<!-- sealbench:figures:begin -->"
	docsEnd   = "<!-- sealbench:figures:end -->"
)

// markdown is the figures section of docs/benchmarks.md.
func (r *report) markdown() string {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintf(&b, "Measured %s on %s; %g s per scenario after %g s of warm-up; `BCRYPT_COST=%d`.\n\n",
		r.Started.Format("2006-01-02"), r.machineLine(), r.Config.DurationS, r.Config.WarmupS, r.Config.BcryptCost)
	b.WriteString("![Requests per second by scenario](benchmarks.svg)\n\n")
	for i, rw := range append([]row{rowHeader}, r.rows()...) {
		cells := rw.cells()
		for j := range cells {
			cells[j] = cell(cells[j])
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			b.WriteString("|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|---|\n")
		}
	}
	b.WriteString("\n")
	for _, l := range r.references() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\n| target | measured | status |\n|---|---|---|\n")
	for _, t := range r.Targets {
		status := t.Status
		if status == "met" || status == "not met" {
			status = "**" + status + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(t.Target), cell(t.Measured), status)
	}
	return b.String()
}

// updateDocs rewrites the figures between the markers of the file at path,
// or writes a file of just the figures if there is none.
func updateDocs(path string, r *report) error {
	section := docsBegin + "\n" + r.markdown() + docsEnd
	// #nosec G304 -- the docs file the caller named with --out.
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return writeFile(path, []byte("# sealauth benchmarks\n\n"+section+"\n"))
	}
	if err != nil {
		return err
	}
	updated, err := replaceSection(string(old), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFile(path, []byte(updated))
}

// replaceSection replaces the text from docsBegin to docsEnd with section.
func replaceSection(doc, section string) (string, error) {
	i := strings.Index(doc, docsBegin)
	j := strings.Index(doc, docsEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("want the markers %s and %s around the figures", docsBegin, docsEnd)
	}
	return doc[:i] + section + doc[j+len(docsEnd):], nil
}

// svg draws requests/s per scenario as horizontal bars on a log scale, with
// the floor and the bcrypt limit as reference lines.
func (r *report) svg() []byte {
	type bar struct {
		label, text string
		rps         float64
		color       string
	}
	var bars []bar
	for _, s := range r.Scenarios {
		if !s.Available {
			bars = append(bars, bar{label: s.Name, text: "unavailable"})
			continue
		}
		for _, g := range s.Groups {
			b := bar{label: fmt.Sprintf("%s (%d)", g.Label, g.Connections), rps: g.RPS, text: fmtRPS(g.RPS) + " req/s", color: "#76b7b2"}
			switch {
			case g.Name == "floor":
				b.color = "#bab0ac"
			case g.RatioTo == "floor":
				b.color = "#4e79a7"
			case g.RatioTo != "":
				b.color = "#f28e2b"
			}
			if t := g.ratioText(); t != "" {
				b.text += " · " + t
			}
			bars = append(bars, b)
		}
	}
	values := []float64{r.Bcrypt.LimitRPS}
	for _, b := range bars {
		values = append(values, b.rps)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if v > 0 {
			lo, hi = math.Min(lo, math.Log10(v)), math.Max(hi, math.Log10(v))
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	lo, hi = math.Floor(lo), math.Max(math.Ceil(hi), math.Floor(lo)+1)

	const (
		width, left, plot, top, rowH = 860, 200, 400, 56, 26
	)
	height := top + rowH*len(bars) + 40
	x := func(v float64) float64 { return left + (math.Log10(v)-lo)/(hi-lo)*plot }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", esc("sealauth: requests/s by scenario (connections), log scale"))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s</text>`+"\n", esc(fmt.Sprintf("%s · %s · bcrypt cost %d", r.Started.Format("2006-01-02"), r.machineLine(), r.Config.BcryptCost)))
	bottom := top + rowH*len(bars)
	for p := lo; p <= hi; p++ {
		px := x(math.Pow(10, p))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, top-4, px, bottom)
		tick := strconv.FormatFloat(math.Pow(10, p), 'g', -1, 64)
		if p >= 3 {
			tick = fmtCount(int64(math.Pow(10, p)))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", px, bottom+16, tick)
	}
	refLine := func(v float64, label, color string) {
		if v <= 0 {
			return
		}
		px := x(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>`+"\n", px, top-4, px, bottom, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", px, bottom+32, color, esc(label))
	}
	refLine(r.Bcrypt.LimitRPS, "bcrypt limit", "#c0392b")
	if _, g := r.group("floor", "floor"); g != nil {
		refLine(g.RPS, "floor", "#555")
	}
	for i, br := range bars {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+16, esc(br.label))
		end := float64(left)
		if br.rps > 0 {
			end = x(br.rps)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+4, math.Max(end-left, 1), rowH-8, br.color)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text>`+"\n", end+6, y+16, esc(br.text))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
