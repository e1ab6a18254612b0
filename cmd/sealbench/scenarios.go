package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
)

// The requests the scenarios are made of. Each sends one request and records it.

func (w *worker) profile(ctx context.Context) {
	w.send(ctx, http.MethodGet, "/api/auth/profile", w.bearer, nil)
}

func (w *worker) profileInvalid(ctx context.Context) {
	w.send(ctx, http.MethodGet, "/api/auth/profile", w.fx.badBearer, nil)
}

// login logs the users in in turn, so that no account has more than a few
// attempts in flight: the server counts an attempt as a failure until it
// succeeds, and throttles an account with 10 of them.
func (w *worker) login(ctx context.Context) {
	w.send(ctx, http.MethodPost, "/api/auth/login", "", pick(w.fx.loginBodies, w.fx.cursor.Add(1)))
}

func (w *worker) loginWrong(ctx context.Context) {
	w.send(ctx, http.MethodPost, "/api/auth/login", "", w.fx.wrongBody(w.fx.wrongSeq.Add(1)))
}

func (w *worker) register(ctx context.Context) {
	w.send(ctx, http.MethodPost, "/api/auth/register", "", w.fx.registerBody(w.fx.regSeq.Add(1)))
}

// refresh spends a refresh token from the pool and returns its successor. A
// chain whose request failed is dropped rather than reused: spending a token
// twice would end its session as stolen.
func (w *worker) refresh(ctx context.Context) {
	var tok string
	select {
	case tok = <-w.fx.chains:
	case <-ctx.Done():
		return
	}
	body, _ := json.Marshal(map[string]string{"refresh_token": tok})
	status, answer := w.send(ctx, http.MethodPost, "/api/auth/refresh", "", body)
	var next tokenResponse
	if status == http.StatusOK && json.Unmarshal(answer, &next) == nil && next.RefreshToken != "" {
		w.fx.chains <- next.RefreshToken // never blocks: the pool has room for every chain
	}
}

func pick(bodies [][]byte, n uint64) []byte {
	return bodies[n%uint64(len(bodies))]
}

// mixShares is the blend of the mixed scenario, by connection: of every 100,
// 90 check tokens, 5 log in, 3 refresh and 2 register. The blend is by
// connection rather than by request because the workers are closed-loop: one
// that logged in on 5% of its requests would spend nearly all its time in
// bcrypt, and the blend would become mostly logins waiting.
var mixShares = []struct {
	name  string
	share float64
}{{"login", 0.05}, {"refresh", 0.03}, {"register", 0.02}}

// groups returns what scenario name runs, or a note saying why it cannot run
// against this server.
func (h *harness) groups(name string) ([]group, string) {
	o, fx := h.opts, h.fx
	kind := func(kind string, conns int) group {
		g := group{name: kind, conns: conns, base: fx.base, want: http.StatusOK}
		switch kind {
		case "profile":
			g.act = (*worker).profile
		case "profile-invalid":
			g.act, g.want = (*worker).profileInvalid, http.StatusUnauthorized
		case "login":
			g.act = (*worker).login
		case "login-wrong-password":
			g.act, g.want = (*worker).loginWrong, http.StatusUnauthorized
		case "register":
			g.act, g.want = (*worker).register, http.StatusCreated
		case "refresh":
			g.act = (*worker).refresh
		}
		return g
	}
	switch name {
	case "floor":
		// The floor gets the very requests profile sends, bearer token included.
		g := kind("profile", o.conns("profile"))
		g.name, g.base = "floor", h.floor.base
		return []group{g}, ""
	case "refresh":
		if fx.chains == nil {
			return nil, "unavailable: " + fx.refreshNote
		}
	case "mixed":
		total := o.conns(name)
		var gs []group
		rest, note := total, ""
		for _, m := range mixShares {
			if m.name == "refresh" && fx.chains == nil {
				note = "no refresh (" + fx.refreshNote + "): its share checks tokens instead"
				continue
			}
			n := max(1, int(math.Round(float64(total)*m.share)))
			gs = append(gs, kind(m.name, n))
			rest -= n
		}
		return append([]group{kind("profile", max(rest, 1))}, gs...), note
	case "overload":
		flood := kind("login", o.overloadConns)
		flood.flood = true
		return []group{flood, kind("profile", o.probeConns)}, ""
	}
	return []group{kind(name, o.conns(name))}, ""
}
