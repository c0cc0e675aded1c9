package httpserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-faster/jx"

	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Text from clients (parameters and the strings of a JSON body) must be UTF-8 without NUL
// characters. No field of the contract means either, PostgreSQL can store neither (it fails the
// statement: a 500 for a bad request), and the other engines would store what PostgreSQL
// refuses. ogen's decoders take both, JSON's \u0000 escape included, so the check is here.
const (
	msgNUL  = "must not hold a NUL character"
	msgUTF8 = "must be valid UTF-8"
	// bodyField names the body as a whole, in a problem's errors.
	bodyField = "body"
)

// badText returns the first parameter or body string of r that is not text, or the problem
// reading the body ran into. It reads the body, and gives r a copy of it for the server.
func badText(route oas.Route, r *http.Request) (*problem.Problem, bool) {
	for i, arg := range route.Args() {
		if msg, bad := notText(arg); bad {
			return invalid(problem.FieldError{Field: pathParams(route)[i], Message: msg}), true
		}
	}
	if q := r.URL.RawQuery; strings.IndexByte(q, '%') >= 0 || !isASCII(q) {
		// Only an escape or a raw byte past ASCII can make a value that is not text.
		query, _ := url.ParseQuery(q) // what does not parse, ogen answers
		for name, values := range query {
			for _, v := range values {
				if msg, bad := notText(v); bad {
					return invalid(problem.FieldError{Field: name, Message: msg}), true
				}
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, false
	}
	var body []byte
	var err error
	if r.ContentLength > 0 { // at most MaxBodyBytes: limitBody refused more
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(r.Body)
	}
	_ = r.Body.Close()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return problem.New(http.StatusRequestEntityTooLarge, "The request body is larger than 1 MiB."), true
		}
		return invalid(problem.FieldError{Field: bodyField, Message: "could not be read"}), true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	// Cheap first: a string can break the rule only through bytes that are not UTF-8 or
	// through the escape \u0000 (jx decodes half a surrogate pair as U+FFFD, which is text).
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u0000`)) {
		return nil, false
	}
	if field, msg, bad := badString(jx.DecodeBytes(body)); bad {
		return invalid(problem.FieldError{Field: field, Message: msg}), true
	}
	return nil, false
}

// errFound stops the walk of a body at the first string that is not text.
var errFound = errors.New("found")

// badString walks the JSON value d holds and returns where its first string that is not text
// is and what is wrong with it. A body that is not JSON has none: ogen answers it.
func badString(d *jx.Decoder) (field, msg string, bad bool) {
	var walk func(d *jx.Decoder, path string) error
	walk = func(d *jx.Decoder, path string) error {
		switch d.Next() {
		case jx.String:
			s, err := d.Str()
			if err != nil {
				return err
			}
			if m, wrong := notText(s); wrong {
				field, msg = path, m
				return errFound
			}
			return nil
		case jx.Object:
			return d.Obj(func(d *jx.Decoder, key string) error {
				return walk(d, join(path, key))
			})
		case jx.Array:
			i := 0
			return d.Arr(func(d *jx.Decoder) error {
				i++
				return walk(d, path+"["+strconv.Itoa(i-1)+"]")
			})
		default:
			return d.Skip()
		}
	}
	if err := walk(d, ""); errors.Is(err, errFound) {
		if field == "" {
			field = bodyField
		}
		return field, msg, true
	}
	return "", "", false
}

// join names key of the object at path: "email", "items[0].title".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// notText says what is wrong with s, if it is not text.
func notText(s string) (string, bool) {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return msgNUL, true
	case !utf8.ValidString(s):
		return msgUTF8, true
	}
	return "", false
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
