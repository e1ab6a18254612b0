// Package web holds the browser client module (sealauth.js) and a demo page
// using it, embedded into the binary and served by Handler.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// CSP is the Content-Security-Policy of the demo page: scripts, styles,
// images and API calls from the page's own origin only, nothing inline.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

//go:embed index.html demo.css demo.js sealauth.js favicon.svg
var files embed.FS

// contentTypes are the types of the files we embed; a file of another kind
// is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the demo page and the client module. It expects the mount
// prefix already stripped: "/" is index.html, "/sealauth.js" the module, and
// any other path a 404. Every file is sent with Cache-Control: no-cache and a
// strong ETag (so browsers revalidate cheaply), the HTML with CSP.
func Handler() http.Handler {
	assets := map[string]asset{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets["/"+name] = asset{
			body:        body,
			contentType: contentTypes[path.Ext(name)],
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic("web: reading embedded files: " + err.Error()) // cannot happen: the FS is compiled in
	}
	assets["/"] = assets["/index.html"]

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok || a.contentType == "" {
			notFound(w)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "Allowed methods: GET, HEAD.")
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if a.contentType == contentTypes[".html"] {
			// Set, not Add: this replaces the API's stricter default policy.
			h.Set("Content-Security-Policy", CSP)
		}
		// ServeContent answers If-None-Match with 304, and HEAD and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

func notFound(w http.ResponseWriter) {
	problem(w, http.StatusNotFound, "not_found", "No such file.")
}

// problem writes an error in the API's problem+json form (RFC 9457).
func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}{"urn:sealauth:error:" + code, http.StatusText(status), status, detail, code})
}
