package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/sealauth/sealauth/internal/auth"
)

// registerBody has the shape of the request bodies decode reads.
type registerBody struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// jsonRequest is a POST with body and content type, its body bounded as
// withMiddleware bounds it.
func jsonRequest(body []byte, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/auth/register", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, MaxBodyBytes)
	return r
}

// clientError reports why err is not an *auth.Error whose code is a 4xx, or "".
func clientError(err error) string {
	var e *auth.Error
	if !errors.As(err, &e) {
		return "error is not an *auth.Error"
	}
	if e.Code == auth.CodeInternal {
		return "code is internal"
	}
	if s, ok := statusOf[e.Code]; !ok || s < 400 || s > 499 {
		return "code " + string(e.Code) + " is not a 4xx"
	}
	return ""
}

// nested is n containers deep in all, inside one object.
func nested(n int) string {
	return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}"
}

func TestDecode(t *testing.T) {
	t.Parallel()
	const ct = "application/json"
	atLimit := `{"name":"` + strings.Repeat("a", MaxBodyBytes-len(`{"name":""}`)) + `"}`
	tests := []struct {
		name        string
		contentType string
		body        string
		want        registerBody
		wantCode    auth.Code // "" when decode must succeed
	}{
		{name: "valid object", body: `{"name":"Ada","email":"ada@example.com","password":"pw"}`,
			want: registerBody{"Ada", "ada@example.com", "pw"}},
		{name: "whitespace around", body: " \t\r\n{\"name\":\"Ada\"}\n\n", want: registerBody{Name: "Ada"}},
		{name: "empty object", body: `{}`},
		{name: "fields omitted", body: `{"email":"ada@example.com"}`, want: registerBody{Email: "ada@example.com"}},
		{name: "escapes", body: `{"name":"A\u00e9\"\\\/\n"}`, want: registerBody{Name: "Aé\"\\/\n"}},
		// Decided: an escaped NUL is valid JSON and reaches the caller, which
		// validates the field (the domain refuses control characters).
		{name: "escaped NUL", body: `{"name":"a\u0000b"}`, want: registerBody{Name: "a\x00b"}},
		// encoding/json turns an escaped lone surrogate into U+FFFD.
		{name: "escaped lone surrogate", body: `{"name":"\ud800"}`, want: registerBody{Name: "\uFFFD"}},
		// encoding/json would treat null as an absent member; we refuse it.
		{name: "null value", body: `{"name":null}`, wantCode: auth.CodeInvalidJSON},
		{name: "body of exactly MaxBodyBytes", body: atLimit, want: registerBody{Name: strings.Repeat("a", MaxBodyBytes-len(`{"name":""}`))}},

		{name: "duplicate key", body: `{"name":"a","name":"b"}`, wantCode: auth.CodeInvalidJSON},
		{name: "duplicate key, other fields between", body: `{"name":"a","email":"e","name":"b"}`, wantCode: auth.CodeInvalidJSON},
		{name: "duplicate key spelt with an escape", body: `{"name":"a","n\u0061me":"b"}`, wantCode: auth.CodeInvalidJSON},
		{name: "duplicate key in another case", body: `{"name":"a","NAME":"b"}`, wantCode: auth.CodeInvalidJSON},
		{name: "duplicate key by Unicode folding", body: `{"password":"a","paſſword":"b"}`, wantCode: auth.CodeInvalidJSON},
		{name: "duplicate nested key", body: `{"name":{"a":1,"a":2}}`, wantCode: auth.CodeInvalidJSON},
		{name: "unknown field", body: `{"name":"a","admin":true}`, wantCode: auth.CodeInvalidJSON},
		{name: "unknown nested object", body: `{"user":{"name":"a"}}`, wantCode: auth.CodeInvalidJSON},
		{name: "number for a string", body: `{"name":1}`, wantCode: auth.CodeInvalidJSON},
		{name: "bool for a string", body: `{"name":true}`, wantCode: auth.CodeInvalidJSON},
		{name: "array for a string", body: `{"name":["a"]}`, wantCode: auth.CodeInvalidJSON},
		{name: "object for a string", body: `{"name":{}}`, wantCode: auth.CodeInvalidJSON},
		{name: "trailing object", body: `{} {}`, wantCode: auth.CodeInvalidJSON},
		{name: "trailing garbage", body: `{}x`, wantCode: auth.CodeInvalidJSON},
		{name: "trailing bracket", body: `{}]`, wantCode: auth.CodeInvalidJSON},
		{name: "trailing NUL", body: "{}\x00", wantCode: auth.CodeInvalidJSON},
		{name: "top-level array", body: `[{"name":"a"}]`, wantCode: auth.CodeInvalidJSON},
		{name: "top-level string", body: `"a"`, wantCode: auth.CodeInvalidJSON},
		{name: "top-level null", body: `null`, wantCode: auth.CodeInvalidJSON},
		{name: "top-level number", body: `1`, wantCode: auth.CodeInvalidJSON},
		{name: "invalid UTF-8 in a string", body: "{\"name\":\"\xff\"}", wantCode: auth.CodeInvalidJSON},
		{name: "invalid UTF-8 in a key", body: "{\"\xffname\":\"a\"}", wantCode: auth.CodeInvalidJSON},
		{name: "overlong UTF-8", body: "{\"name\":\"\xc0\xaf\"}", wantCode: auth.CodeInvalidJSON},
		{name: "UTF-8 encoded surrogate", body: "{\"name\":\"\xed\xa0\x80\"}", wantCode: auth.CodeInvalidJSON},
		{name: "raw NUL in a string", body: "{\"name\":\"a\x00b\"}", wantCode: auth.CodeInvalidJSON},
		{name: "raw newline in a string", body: "{\"name\":\"a\nb\"}", wantCode: auth.CodeInvalidJSON},
		{name: "byte order mark", body: "\xef\xbb\xbf{}", wantCode: auth.CodeInvalidJSON},
		{name: "unterminated object", body: `{"name":"a"`, wantCode: auth.CodeInvalidJSON},
		{name: "trailing comma", body: `{"name":"a",}`, wantCode: auth.CodeInvalidJSON},
		{name: "missing colon", body: `{"name" "a"}`, wantCode: auth.CodeInvalidJSON},
		{name: "single quotes", body: `{'name':'a'}`, wantCode: auth.CodeInvalidJSON},
		{name: "deep nesting", body: strings.Repeat("[", 10000), wantCode: auth.CodeInvalidJSON},
		{name: "deep nesting in an object", body: `{"name":` + strings.Repeat("[", 10000), wantCode: auth.CodeInvalidJSON},
		{name: "empty body", body: ``, wantCode: auth.CodeInvalidJSON},
		{name: "whitespace body", body: " \n\t", wantCode: auth.CodeInvalidJSON},
		{name: "body over MaxBodyBytes", body: `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, wantCode: auth.CodePayloadTooLarge},
		{name: "one byte over MaxBodyBytes", body: atLimit + " ", wantCode: auth.CodePayloadTooLarge},

		{name: "charset utf-8", contentType: "application/json; charset=utf-8", body: `{"name":"a"}`, want: registerBody{Name: "a"}},
		{name: "media type in capitals", contentType: "Application/JSON", body: `{"name":"a"}`, want: registerBody{Name: "a"}},
		{name: "problem+json", contentType: "application/problem+json", body: `{"name":"a"}`, want: registerBody{Name: "a"}},
		{name: "merge-patch+json", contentType: "application/merge-patch+json", body: `{"name":"a"}`, want: registerBody{Name: "a"}},
		{name: "text/plain", contentType: "text/plain", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "content type missing", contentType: "-", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "json without a type", contentType: "json", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "+json alone", contentType: "+json", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "application/jsonp", contentType: "application/jsonp", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "two media types", contentType: "application/json, text/plain", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		{name: "malformed parameter", contentType: "application/json; charset", body: `{"name":"a"}`, wantCode: auth.CodeUnsupportedMediaType},
		// The media type is checked before the body is read.
		{name: "text/plain and too big", contentType: "text/plain", body: strings.Repeat("a", MaxBodyBytes+1), wantCode: auth.CodeUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			contentType := tt.contentType
			switch contentType {
			case "":
				contentType = ct
			case "-":
				contentType = ""
			}
			var got registerBody
			err := decode(jsonRequest([]byte(tt.body), contentType), &got)
			code := auth.Code("")
			if err != nil {
				code = auth.ErrorCode(err)
			}
			if code != tt.wantCode {
				t.Fatalf("decode(%.60q) code = %q (%v), want %q", tt.body, code, err, tt.wantCode)
			}
			if err != nil {
				if why := clientError(err); why != "" {
					t.Errorf("decode(%.60q) = %v: %s", tt.body, err, why)
				}
				return
			}
			if got != tt.want {
				t.Errorf("decode(%.60q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestDecodeReadError(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/api/auth/login", nil)
	r.Header.Set("Content-Type", "application/json")
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(iotest.ErrReader(errors.New("connection reset"))), MaxBodyBytes)
	var v registerBody
	err := decode(r, &v)
	if code := auth.ErrorCode(err); code != auth.CodeInvalidJSON {
		t.Errorf("decode(failing body) code = %q (%v), want %q", code, err, auth.CodeInvalidJSON)
	}
}

func TestCheckStructure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"flat object", `{"a":1,"b":"x","c":true}`, true},
		{"null member", `{"a":null}`, false},
		{"nested objects and arrays", `{"a":{"b":[1,{"c":2}],"d":{}},"e":[]}`, true},
		{"same key at different levels", `{"a":{"a":{"a":1}}}`, true},
		{"same key in sibling objects", `{"a":[{"k":1},{"k":2}],"b":{"k":3}}`, true},
		{"key after a nested object", `{"a":{"b":1},"b":2}`, true},
		{"key after a nested array", `{"a":[1,2],"b":3}`, true},
		{"string values equal to keys", `{"a":"a","b":"a"}`, true},
		{"array of strings equal to later keys", `{"a":["b","c"],"b":1,"c":2}`, true},
		{"32 levels", nested(maxJSONDepth), true},

		{"duplicate top-level key", `{"a":1,"a":2}`, false},
		{"duplicate top-level key after a nested value", `{"a":{"x":1},"b":[1],"a":2}`, false},
		{"duplicate nested key", `{"a":{"b":1,"b":2}}`, false},
		{"duplicate key in an object in an array", `{"a":[{"k":1,"k":2}]}`, false},
		{"duplicate key deep down", `{"a":{"b":{"c":{"d":1,"d":{}}}}}`, false},
		{"duplicate empty key", `{"":1,"":2}`, false},
		{"duplicate key spelt with escapes", `{"\u00e9":1,"é":2}`, false},
		{"33 levels", nested(maxJSONDepth + 1), false},
		{"10,000 '['", strings.Repeat("[", 10000), false},
		{"10,000 '[' in an object", `{"a":` + strings.Repeat("[", 10000), false},
		{"10,000 balanced '[' in an object", nested(10000), false},
		{"10,000 nested objects", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), false},
		{"empty", ``, false},
		{"top-level array", `[]`, false},
		{"top-level string", `"{}"`, false},
		{"top-level null", `null`, false},
		{"trailing object", `{} {}`, false},
		{"trailing garbage", `{}x`, false},
		{"trailing scalar", `{} 1`, false},
		{"unterminated", `{"a":[1,2}`, false},
		{"mismatched brackets", `{"a":[}]}`, false},
		{"value without key", `{1:2}`, false},
	}
	for _, tt := range tests {
		err := checkStructure([]byte(tt.body))
		switch {
		case tt.ok && err != nil:
			t.Errorf("checkStructure(%s) = %v, want nil", tt.name, err)
		case !tt.ok && err == nil:
			t.Errorf("checkStructure(%s) = nil, want an error", tt.name)
		case !tt.ok && auth.ErrorCode(err) != auth.CodeInvalidJSON:
			t.Errorf("checkStructure(%s) code = %q, want %q", tt.name, auth.ErrorCode(err), auth.CodeInvalidJSON)
		}
	}
}

// TestCheckStructureDeepNestingIsCheap shows that deep nesting is refused at
// the depth limit: the cost does not grow with the depth of the body.
func TestCheckStructureDeepNestingIsCheap(t *testing.T) {
	shapes := []struct {
		name string
		body func(depth int) []byte
	}{
		{"'[' in an object", func(n int) []byte { return []byte(`{"a":` + strings.Repeat("[", n)) }},
		{"balanced '[' in an object", func(n int) []byte { return []byte(nested(n)) }},
		{"nested objects", func(n int) []byte {
			return []byte(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
		}},
	}
	allocs := func(body []byte) float64 {
		return testing.AllocsPerRun(20, func() {
			if err := checkStructure(body); err == nil {
				t.Fatalf("checkStructure(%.20s…) = nil, want an error", body)
			}
		})
	}
	for _, s := range shapes {
		shallow, deep := allocs(s.body(2*maxJSONDepth)), allocs(s.body(10000))
		if deep > shallow+2 { // +2: AllocsPerRun counts the whole process
			t.Errorf("checkStructure(10,000 levels of %s): %.0f allocations, want no more than the %.0f for %d levels", s.name, deep, shallow, 2*maxJSONDepth)
		}
		// A few allocations a level, up to maxJSONDepth levels.
		if limit := 10 * maxJSONDepth; deep > float64(limit) {
			t.Errorf("checkStructure(10,000 levels of %s): %.0f allocations, want <= %d", s.name, deep, limit)
		}
	}
}

// decodeSeeds are real bodies and known attacks on decode.
var decodeSeeds = []string{
	`{"name":"Ada Lovelace","email":"ada@example.com","password":"c2VhbGVk"}`,
	`{"email":"ada@example.com","password":"c2VhbGVk","kid":"2026-03"}`,
	`{"name":"a","name":"b"}`,
	`{"name":"a","NAME":"b"}`,
	`{"name":"a","n\u0061me":"b"}`,
	`{"name":{"a":1,"a":2}}`,
	`{"name":"a","admin":true}`,
	`{"name":1}`,
	`{} {}`,
	`{}x`,
	`[]`,
	`"a"`,
	`null`,
	"{\"name\":\"\xff\"}",
	"{\"\xff\":\"a\"}",
	`{"name":"a\u0000b"}`,
	`{"name":"\ud800\udc00\ud800"}`,
	nested(maxJSONDepth + 1),
	`{"name":` + strings.Repeat("[", 100),
	``,
	"\xef\xbb\xbf{}",
	`{"name":"a",}`,
	`{"name":1e999}`,
	`{"name":-0.0e-0}`,
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got registerBody
		err := decode(jsonRequest(body, "application/json"), &got)
		if err != nil {
			if why := clientError(err); why != "" {
				t.Fatalf("decode(%q) = %v: %s", body, err, why)
			}
			return
		}
		// What decode accepts is one valid JSON object in valid UTF-8 that
		// encoding/json reads the same way.
		if len(body) > MaxBodyBytes || !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("decode(%q) accepted a body that is too big, not UTF-8 or not JSON", body)
		}
		var want registerBody
		if err := json.Unmarshal(body, &want); err != nil || got != want {
			t.Fatalf("decode(%q) = %+v, but json.Unmarshal = %+v, %v", body, got, want, err)
		}
	})
}
