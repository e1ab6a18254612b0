package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesAssets(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/demo", Handler()))
	t.Cleanup(srv.Close)

	tests := []struct {
		path        string
		contentType string
		csp         string // the CSP header wanted; "" means none
		contains    string
	}{
		{path: "/demo/", contentType: "text/html; charset=utf-8", csp: CSP, contains: `<script type="module" src="demo.js">`},
		{path: "/demo/index.html", contentType: "text/html; charset=utf-8", csp: CSP, contains: "<title>sealauth demo</title>"},
		{path: "/demo/sealauth.js", contentType: "text/javascript; charset=utf-8", contains: "export async function sealPassword"},
		{path: "/demo/demo.js", contentType: "text/javascript; charset=utf-8", contains: "from './sealauth.js'"},
		{path: "/demo/demo.css", contentType: "text/css; charset=utf-8", contains: ".result"},
		{path: "/demo/favicon.svg", contentType: "image/svg+xml", contains: "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, srv.URL+tt.path, "")
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status = %d, want 200", tt.path, res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("GET %s: Content-Type = %q, want %q", tt.path, got, tt.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("GET %s: Cache-Control = %q, want no-cache", tt.path, got)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != tt.csp {
				t.Errorf("GET %s: Content-Security-Policy = %q, want %q", tt.path, got, tt.csp)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("GET %s: body lacks %q", tt.path, tt.contains)
			}

			// The ETag lets a browser revalidate without the body.
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatalf("GET %s: no ETag", tt.path)
			}
			if res := get(t, srv.URL+tt.path, etag); res.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: status = %d, want 304", tt.path, res.StatusCode)
			}
		})
	}
}

func TestHandlerNotFound(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/demo", Handler()))
	t.Cleanup(srv.Close)

	for _, path := range []string{"/demo/nope.js", "/demo/embed.go", "/demo/../go.mod", "/demo/sub/"} {
		res := get(t, srv.URL+path, "")
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status = %d, want 404", path, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != "application/problem+json" {
			t.Errorf("GET %s: Content-Type = %q, want application/problem+json", path, got)
		}
		var p struct{ Code string }
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil || p.Code != "not_found" {
			t.Errorf("GET %s: code = %q (err %v), want not_found", path, p.Code, err)
		}
	}
}

func TestHandlerMethodNotAllowed(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: status = %d, want 405", rec.Code)
	}
	if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("POST /: Allow = %q, want GET, HEAD", got)
	}
}

// get sends a GET, with If-None-Match when etag is set, and closes the body
// at the end of the test.
func get(t *testing.T, url, etag string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}
