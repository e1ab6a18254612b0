package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// MaxResponseBytes bounds every response body the client reads.
const MaxResponseBytes = 1 << 20

// DefaultUserAgent is the User-Agent the client sends unless [WithUserAgent]
// names another. The server shows it in the session list.
const DefaultUserAgent = "sealauth-go-client"

// maxDetail bounds the text of an answer that is not a problem document.
const maxDetail = 200

// Client calls one sealauth server. Make it with [New].
type Client struct {
	base      string // scheme://host[/prefix], without a trailing slash
	hc        *http.Client
	userAgent string

	keyMu sync.Mutex
	key   *PublicKey
	fetch chan struct{} // a one-slot semaphore: one public-key fetch at a time
}

// Option configures a [Client].
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc, for example one
// with a Timeout, a proxy or custom TLS settings. The default is an
// http.Client without timeout that does not follow redirects.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request; the server shows
// it in the session list. The default is [DefaultUserAgent].
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the server at baseURL, such as
// "http://127.0.0.1:8000" or "https://auth.example.com/prefix" (everything of
// the API lives under baseURL + "/api/auth"). The URL must be absolute http or
// https, without user info, query or fragment.
//
// Over plain http the tokens travel readable to anyone on the path (passwords
// do not: they are sealed); use https beyond loopback.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("sealauth: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("sealauth: base URL %q: scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("sealauth: base URL %q: no host", baseURL)
	case u.User != nil:
		return nil, errors.New("sealauth: base URL: must not contain user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("sealauth: base URL %q: must not have a query or fragment", baseURL)
	}
	u.RawPath, u.Path = "", strings.TrimRight(u.Path, "/")
	c := &Client{
		base: u.String(),
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // an auth API does not redirect; show the answer
		}},
		userAgent: DefaultUserAgent,
		fetch:     make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// call is one API request.
type call struct {
	op      string   // the method's name, for errors
	method  string   // GET, POST, …
	path    string   // under the base URL, e.g. "/api/auth/login"
	bearer  string   // access token, or ""
	body    any      // encoded as JSON unless nil
	secrets []string // scrubbed from error details: tokens and passwords of this call
}

// do sends the call and decodes a 2xx answer into out (unless out is nil).
// Any other answer is an *Error.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("sealauth: %s: encode request: %w", cl.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, body)
	if err != nil {
		return fmt.Errorf("sealauth: %s: %w", cl.op, err)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if cl.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+cl.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error names the method and URL (net/http hides any password in
		// it); neither holds a token or password of ours.
		return fmt.Errorf("sealauth: %s: %w", cl.op, err)
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	// Drain a little more so the connection can be reused; then give up on it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(cl, resp, data)
	}
	if readErr != nil {
		return fmt.Errorf("sealauth: %s: read response: %w", cl.op, readErr)
	}
	if len(data) > MaxResponseBytes {
		return fmt.Errorf("sealauth: %s: response body over %d bytes", cl.op, MaxResponseBytes)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("sealauth: %s: decode response (status %d): %w", cl.op, resp.StatusCode, err)
	}
	return nil
}

// problem is an RFC 9457 problem document as sealauth writes it.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// responseError makes the *Error of a non-2xx answer, whatever its body.
func responseError(cl call, resp *http.Response, data []byte) *Error {
	e := &Error{
		Op:         cl.op,
		Status:     resp.StatusCode,
		Title:      http.StatusText(resp.StatusCode),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		RequestID:  printable(resp.Header.Get("X-Request-Id"), 100),
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p problem
	switch {
	case (mt == "application/problem+json" || mt == "application/json") && len(data) <= MaxResponseBytes && json.Unmarshal(data, &p) == nil:
		e.Code, e.Type = printable(p.Code, 100), printable(p.Type, 200)
		if p.Title != "" {
			e.Title = printable(p.Title, 100)
		}
		e.Detail = printable(p.Detail, 1000)
		for _, f := range p.Errors {
			e.Fields = append(e.Fields, FieldError{Field: printable(f.Field, 100), Message: scrub(printable(f.Message, 1000), cl.secrets)})
		}
	case mt == "text/plain":
		// net/http's own refusals (431, 400 for a malformed request) are one
		// line of plain text, such as "431 Request Header Fields Too Large".
		line, _, _ := strings.Cut(string(data), "\n")
		e.Detail = printable(line, maxDetail)
	}
	// Anything else (an HTML page of a proxy) is left out: the status says it.
	e.Detail = scrub(e.Detail, cl.secrets)
	return e
}

// scrub removes the call's secrets from a text the server sent back. sealauth
// never echoes them; a proxy in between might.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// printable keeps at most limit runes of s, with control characters (a forged
// header or body cannot break a log line) and invalid UTF-8 dropped.
func printable(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "") {
		if unicode.IsControl(r) {
			continue
		}
		if n == limit {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). It returns 0 for none, a past date or nonsense.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
