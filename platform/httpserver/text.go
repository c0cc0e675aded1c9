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

// Text from clients (query parameters and the strings of a JSON body) must be UTF-8 without NUL
// characters. No field of the contract means either, PostgreSQL can store neither (it fails the
// statement: a 500 for a bad request), and the other engines would store what PostgreSQL
// refuses. ogen's decoders take both, JSON's \u0000 escape included, so the check is here.
// Path parameters need none: every one the contract has is a UUID, held to its grammar by
// strictParams.
const (
	msgNUL  = "must not hold a NUL character"
	msgUTF8 = "must be valid UTF-8"
	// bodyField names the body as a whole, in a problem's errors: also for a string too deep
	// or under too long a name to be named.
	bodyField = "body"
	// maxNamedDepth and maxNamedLen bound the name given to a bad string of a body: a
	// client's nesting and keys should not make the answer large.
	maxNamedDepth = 32
	maxNamedLen   = 200
	// firstRead is the most memory taken for a body before its bytes arrive, whatever its
	// Content-Length says.
	firstRead = 64 << 10
)

// badText returns the first query parameter or body string of r that is not text, or the
// problem reading the body ran into. It reads a JSON body (within limitBody's limit), and gives
// r a copy of it for the server; bodies of other types are left to ogen, which refuses them.
func badText(route oas.Route, r *http.Request) (*problem.Problem, bool) {
	if q := r.URL.RawQuery; strings.IndexByte(q, '%') >= 0 || !isASCII(q) {
		// Only an escape or a raw byte past ASCII can make a value that is not text.
		query, _ := url.ParseQuery(q) // what does not parse, ogen answers
		fields := operationFields[route.OperationID()]
		for name, values := range query {
			if fields[name].In != "query" {
				continue // not the operation's: ogen ignores it, and so does this
			}
			for _, v := range values {
				if msg, bad := notText(v); bad {
					return invalid(problem.FieldError{Field: name, Message: msg}), true
				}
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || !isJSON(r.Header.Get("Content-Type")) {
		return nil, false
	}
	// Grown as the bytes arrive: a Content-Length alone takes no megabyte. ReadFrom wants
	// MinRead bytes free before each read, the last one (which finds the end) included.
	var buf bytes.Buffer
	buf.Grow(int(min(max(r.ContentLength, 0), firstRead)) + bytes.MinRead)
	_, err := buf.ReadFrom(r.Body)
	_ = r.Body.Close()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return problem.New(http.StatusRequestEntityTooLarge, "The request body is larger than 1 MiB."), true
		}
		return invalid(problem.FieldError{Field: bodyField, Message: "could not be read"}), true
	}
	body := buf.Bytes()
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

// isJSON reports whether a Content-Type is JSON's, as ogen accepts it for the contract's bodies.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// errFound stops the walk of a body at the first string that is not text.
var errFound = errors.New("found")

// segment is one step of the way to a value in a body: an object's key, or an array's index.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// badString walks the JSON value d holds and returns where its first string that is not text
// is and what is wrong with it. A body that is not JSON has none: ogen answers it. The way is
// kept as a stack of segments and joined only for the bad string, so that a deep body costs
// its size, not its depth squared.
func badString(d *jx.Decoder) (field, msg string, bad bool) {
	var way []segment
	var walk func(d *jx.Decoder) error
	walk = func(d *jx.Decoder) error {
		switch d.Next() {
		case jx.String:
			s, err := d.Str()
			if err != nil {
				return err
			}
			if m, wrong := notText(s); wrong {
				field, msg = name(way), m
				return errFound
			}
			return nil
		case jx.Object:
			return d.Obj(func(d *jx.Decoder, key string) error {
				way = append(way, segment{key: key})
				err := walk(d)
				way = way[:len(way)-1]
				return err
			})
		case jx.Array:
			i := 0
			return d.Arr(func(d *jx.Decoder) error {
				way = append(way, segment{index: i, isIndex: true})
				i++
				err := walk(d)
				way = way[:len(way)-1]
				return err
			})
		default:
			return d.Skip()
		}
	}
	if err := walk(d); errors.Is(err, errFound) {
		return field, msg, true
	}
	return "", "", false
}

// name names the value at the end of way: "email", "items[0].title"; the body itself when the
// way is empty, too deep or too long to be worth naming.
func name(way []segment) string {
	if len(way) == 0 || len(way) > maxNamedDepth {
		return bodyField
	}
	var b strings.Builder
	for i, s := range way {
		switch {
		case s.isIndex:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case i > 0:
			b.WriteString("." + s.key)
		default:
			b.WriteString(s.key)
		}
		if b.Len() > maxNamedLen {
			return bodyField
		}
	}
	if b.Len() == 0 { // an empty key
		return bodyField
	}
	return b.String()
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
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
