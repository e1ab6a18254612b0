package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sealauth/sealauth/internal/auth"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// maxJSONDepth bounds nesting; no request of ours nests at all.
const maxJSONDepth = 32

var (
	contentJSON    = []string{"application/json"}
	contentProblem = []string{"application/problem+json"}
)

// writeJSON encodes v straight into the response; net/http computes the
// Content-Length of a body this small. v is always one of our own types, which
// cannot fail to encode.
func writeJSON(w http.ResponseWriter, status int, contentType []string, v any) {
	w.Header()["Content-Type"] = contentType
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func encode(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, contentJSON, v)
}

func invalidJSON(detail string, err error) *auth.Error {
	return &auth.Error{Code: auth.CodeInvalidJSON, Detail: detail, Err: err}
}

// decode reads a JSON object into v strictly: the content type must be JSON, the
// body at most MaxBodyBytes of valid UTF-8 (encoding/json would silently replace
// invalid bytes), one object with no duplicate or unknown keys, no trailing data.
func decode(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !(len(mt) > 5 && mt[len(mt)-5:] == "+json")) {
		return &auth.Error{Code: auth.CodeUnsupportedMediaType, Detail: "Send the body as application/json."}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &auth.Error{Code: auth.CodePayloadTooLarge, Detail: fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes)}
		}
		return invalidJSON("The request body could not be read.", err)
	}
	if !utf8.Valid(body) {
		return invalidJSON("The body is not valid UTF-8.", nil)
	}
	if err := checkStructure(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return invalidJSON(fmt.Sprintf("The field %q has the wrong type; want %s.", typeErr.Field, typeErr.Type), nil)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return invalidJSON(fmt.Sprintf("The body has a field this endpoint does not take: %.80s.", name), nil)
		}
		return invalidJSON("The body is not a valid JSON object for this endpoint.", err)
	}
	return nil
}

// checkStructure walks the tokens once to refuse what encoding/json accepts
// silently: duplicate keys (which value wins differs between parsers), a
// top-level value that is not an object, deep nesting and trailing data.
func checkStructure(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]struct{}
		isKey  bool // in an object: the next string token is a key
	}
	var stack []frame
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if first {
				return invalidJSON("The body is empty; send a JSON object.", nil)
			}
			return nil
		}
		if err != nil {
			return invalidJSON("The body is not valid JSON.", nil)
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return invalidJSON("The body must be a JSON object.", nil)
			}
		} else if len(stack) == 0 {
			return invalidJSON("The body has data after the JSON object.", nil)
		}
		first = false
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].isKey {
			if key, ok := tok.(string); ok {
				folded := foldKey(key)
				if _, dup := stack[top].keys[folded]; dup {
					return invalidJSON(fmt.Sprintf("The key %.80q appears more than once.", key), nil)
				}
				stack[top].keys[folded] = struct{}{}
				stack[top].isKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return invalidJSON("The body is nested too deeply.", nil)
			}
			if top >= 0 && stack[top].object {
				stack[top].isKey = true
			}
			obj := tok == json.Delim('{')
			f := frame{object: obj, isKey: obj}
			if obj {
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		default:
			if tok == nil {
				// encoding/json leaves a field as it was for null, so a null
				// would be obeyed as if the member were absent.
				return invalidJSON("The body has a null value; leave the member out instead.", nil)
			}
			if top >= 0 && stack[top].object {
				stack[top].isKey = true
			}
		}
	}
}

// foldKey maps each rune to the smallest rune of its case-folding orbit, so that
// keys encoding/json would match to one field (it compares names with
// bytes.EqualFold, where "NAME" and "name", and "ſ" and "s", are one) collide.
func foldKey(key string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, key)
}
