package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func rotate(t *testing.T, env map[string]string, dir, kind string) {
	t.Helper()
	out, stderr, err := runCmd(t, "", env, "keys", "rotate", "--kind", kind, "--data-dir", dir)
	if err == nil && !strings.Contains(out, "in use from") {
		t.Errorf("keys rotate printed %q, want when the key is used", out)
	}
	if err != nil {
		t.Fatalf("sealauth keys rotate --kind %s: %v; %s", kind, err, stderr)
	}
	t.Logf("rotated: %s", strings.TrimSpace(out))
}

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	var hdr struct {
		KID string `json:"kid"`
	}
	b, err := decodeSegment(h)
	if err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("token header %q: %v", h, err)
	}
	return hdr.KID
}

// TestRotationUnderContinuousLogins rotates both keys with the CLI while two
// server processes on one database serve a stream of logins (sealed with
// whichever public key the client last fetched, from either instance) and
// profile requests across instances: not one request may fail.
func TestRotationUnderContinuousLogins(t *testing.T) {
	forEachStore(t, testRotationUnderContinuousLogins)
}

func testRotationUnderContinuousLogins(t *testing.T, db map[string]string) {
	dir := t.TempDir()
	env := with(db, map[string]string{"SIGNING_KEY_ACTIVATION": "3s"})
	a, _ := startProcess(t, dir, env)
	b, _ := startProcess(t, dir, env)
	newUser(t, a, "rot@example.com")
	oldSealed := a.seal(t, goodPassword)
	oldSealingKID, oldSigningKID := a.kid, kidOf(t, a.loginToken(t, "rot@example.com", goodPassword))

	var stop atomic.Bool
	var requests, failures atomic.Int64
	var mu sync.Mutex
	var lastKIDs [2]string // sealing kid used, signing kid seen
	done := make(chan struct{})
	go func() {
		defer close(done)
		servers := []*testServer{a, b}
		for i := 0; !stop.Load(); i++ {
			from, to := servers[i%2], servers[(i+1)%2]
			if i%3 == 0 {
				from.fetchPublicKey(t)
			}
			// Seal with the key last fetched from `from` (a client's cached copy).
			body := jsonBody(t, map[string]string{"email": "rot@example.com", "password": from.seal(t, goodPassword), "kid": from.kid})
			login := to.do(t, "POST", "/api/auth/login", body, nil)
			requests.Add(1)
			var p tokenPair
			if login.status != http.StatusOK || json.Unmarshal(login.body, &p) != nil {
				failures.Add(1)
				t.Errorf("login #%d at the other instance: status %d: %s", i, login.status, login.body)
				continue
			}
			requests.Add(1)
			if st := from.profileStatus(t, p.AccessToken); st != http.StatusOK {
				failures.Add(1)
				t.Errorf("profile #%d at the first instance: status %d", i, st)
			}
			mu.Lock()
			lastKIDs = [2]string{from.kid, kidOf(t, p.AccessToken)}
			mu.Unlock()
		}
	}()

	time.Sleep(time.Second)
	rotate(t, env, dir, "sealing")
	time.Sleep(time.Second)
	rotate(t, env, dir, "signing")
	// Both new keys are in use once the activation delays have passed and
	// every instance has reloaded.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		kids := lastKIDs
		mu.Unlock()
		if kids[0] != oldSealingKID && kids[1] != oldSigningKID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new keys not in use 20 s after rotation: sealing %s (old %s), signing %s (old %s)", kids[0], oldSealingKID, kids[1], oldSigningKID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	<-done
	if failures.Load() != 0 || requests.Load() < 20 {
		t.Errorf("%d of %d requests failed during the rotations, want 0 of at least 20", failures.Load(), requests.Load())
	}
	// Within the overlap a password sealed to the old key still opens.
	b.do(t, "POST", "/api/auth/login", jsonBody(t, map[string]string{"email": "rot@example.com", "password": oldSealed}), nil).
		decode(t, http.StatusOK, &map[string]any{})
	// The CLI lists both generations.
	out, _, err := runCmd(t, "", env, "keys", "list", "--data-dir", dir)
	if err != nil || strings.Count(out, "current") != 2 || strings.Count(out, "previous") != 2 {
		t.Errorf("keys list = %v\n%s\nwant two current and two previous keys", err, out)
	}
}

// TestJWKSVerifierAcrossRotation: an outside verifier (node's jose, reading
// our JWKS with its default caching) keeps verifying every token across a
// signing-key rotation, with no change to its configuration.
func TestJWKSVerifierAcrossRotation(t *testing.T) {
	t.Parallel()
	node := needBinary(t, "node")
	interop, err := filepath.Abs("../../test/interop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(interop, "node_modules", "jose")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("jose is not installed (npm ci --prefix test/interop): %v", err)
		}
		t.Skip("jose not installed; run npm ci --prefix test/interop")
	}
	dir := t.TempDir()
	s, _ := startProcess(t, dir, nil) // the default activation delay: verifiers' caches are what it is for
	newUser(t, s, "jose@example.com")

	cmd := exec.Command(node, filepath.Join(interop, "verify.mjs"), s.URL+"/.well-known/jwks.json", "sealauth") // #nosec G204 -- test
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	results := bufio.NewScanner(stdout)
	verify := func(tok string) {
		t.Helper()
		if _, err := io.WriteString(stdin, tok+"\n"); err != nil {
			t.Fatal(err)
		}
		if !results.Scan() {
			t.Fatalf("verifier stopped: %v", results.Err())
		}
		var r struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
			KID   string `json:"kid"`
		}
		if err := json.Unmarshal(results.Bytes(), &r); err != nil || !r.OK {
			t.Fatalf("jose rejected a token of kid %s: %s", kidOf(t, tok), results.Text())
		}
	}

	first := s.loginToken(t, "jose@example.com", goodPassword)
	oldKID := kidOf(t, first)
	verify(first) // jose fetches and caches the JWKS now
	rotate(t, nil, dir, "signing")
	deadline := time.Now().Add(90 * time.Second)
	for {
		tok := s.loginToken(t, "jose@example.com", goodPassword)
		verify(tok)
		if kidOf(t, tok) != oldKID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tokens still use the old signing key 90 s after rotation")
		}
		time.Sleep(2 * time.Second)
	}
	verify(first) // the old key stays published while its tokens live
}
