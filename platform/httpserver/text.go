package httpserver

import (
	"bytes"
	"errors"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
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
//
// A JSON body must not have a key twice in one object either: ogen keeps the last value, a
// proxy or a WAF in front may read the first, and the two then see different requests (RFC
// 8259 leaves the meaning undefined). The same walk finds both.
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

// badText returns the first query parameter or body string of r that is not text, or key of
// its body that is its object's twice, or the problem reading the body ran into. It reads a
// JSON body (within limitBody's limit), and gives r a copy of it for the server; bodies of
// other types are left to ogen, which refuses them.
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
	checkStrings := !utf8.Valid(body) || bytes.Contains(body, []byte(`\u0000`))
	// A duplicate key needs an object, and then one walk, with the string check when needed.
	if !checkStrings && bytes.IndexByte(body, '{') < 0 {
		return nil, false
	}
	d := jx.GetDecoder()
	defer jx.PutDecoder(d)
	d.ResetBytes(body)
	if field, msg, bad := badBody(d, checkStrings); bad {
		return invalid(problem.FieldError{Field: field, Message: msg}), true
	}
	return nil, false
}

// isJSON reports whether a Content-Type is JSON's, as ogen accepts it for the contract's bodies.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// errFound stops the walk of a body at the first thing it refuses.
var errFound = errors.New("found")

// segment is one step of the way to a value in a body: an object's key (keys[from:to] of the
// walker), or an array's index.
type segment struct {
	from, to int
	index    int
	isIndex  bool
}

// span is where a key is in the walker's keys.
type span struct{ from, to int }

// smallObject is the most keys of an object compared one by one for duplicates; a larger
// object's keys are found through a hash table, so that a body of many keys costs its size,
// not its size squared.
const smallObject = 16

// msgDuplicate says a key is in its object more than once: decoders differ on which value
// wins (ours keeps the last, many proxies the first), so a body with one is two requests.
const msgDuplicate = "is a duplicate key"

// walker walks a JSON body once, refusing the first key that is its object's twice and, when
// checkStrings is set, the first string that is not text.
type walker struct {
	checkStrings bool
	// way is the path to the value being walked, kept as a stack of segments and joined only
	// for what is refused, so that a deep body costs its size, not its depth squared.
	way []segment
	// keys holds the (unescaped) keys of the objects open on the way, end to end, and seen
	// where each is: an object's keys are the spans from the count at its start on. The
	// decoder's copy of a key lasts only until its next read.
	keys []byte
	seen []span
	seed maphash.Seed
	// field and msg say what was refused.
	field, msg string
}

// walkers keeps walkers with their buffers between requests: most bodies then walk with no
// allocation. A walker whose buffers a large body grew past keptRoom is dropped.
var walkers = sync.Pool{New: func() any { return &walker{seed: maphash.MakeSeed()} }}

// keptRoom bounds the buffers of a walker put back in walkers, in bytes.
const keptRoom = 64 << 10

// badBody walks the JSON value d holds and returns where the first thing it refuses is and
// what is wrong with it: a duplicate key, or (checkStrings) a string that is not text. A body
// that is not JSON has none: ogen answers it.
func badBody(d *jx.Decoder, checkStrings bool) (field, msg string, bad bool) {
	w := walkers.Get().(*walker)
	w.checkStrings, w.way, w.keys, w.seen = checkStrings, w.way[:0], w.keys[:0], w.seen[:0]
	err := w.walk(d)
	field, msg = w.field, w.msg
	w.field, w.msg = "", ""
	if cap(w.keys) <= keptRoom && cap(w.way) <= keptRoom/32 && cap(w.seen) <= keptRoom/16 {
		walkers.Put(w)
	}
	if errors.Is(err, errFound) {
		return field, msg, true
	}
	return "", "", false
}

func (w *walker) walk(d *jx.Decoder) error {
	switch d.Next() {
	case jx.String:
		if !w.checkStrings {
			return d.Skip()
		}
		s, err := d.StrBytes()
		if err != nil {
			return err
		}
		if m, wrong := notTextBytes(s); wrong {
			return w.refuse(m)
		}
		return nil
	case jx.Object:
		return w.object(d)
	case jx.Array:
		return w.array(d)
	default:
		return d.Skip()
	}
}

// refuse names the value at the end of the way as the one refused, for msg.
func (w *walker) refuse(msg string) error {
	w.field, w.msg = w.name(), msg
	return errFound
}

// array walks an array's values. Iterators rather than callbacks: a callback capturing the
// walker would cost an allocation per array and per object.
func (w *walker) array(d *jx.Decoder) error {
	it, err := d.ArrIter()
	if err != nil {
		return err
	}
	for i := 0; it.Next(); i++ {
		w.way = append(w.way, segment{index: i, isIndex: true})
		err := w.walk(d)
		w.way = w.way[:len(w.way)-1]
		if err != nil {
			return err
		}
	}
	return it.Err()
}

// object walks an object, each key checked against the object's earlier ones before its value
// is walked.
func (w *walker) object(d *jx.Decoder) error {
	it, err := d.ObjIter()
	if err != nil {
		return err
	}
	start, first := len(w.keys), len(w.seen)
	defer func() { w.keys, w.seen = w.keys[:start], w.seen[:first] }()
	var table []int32 // past smallObject keys: 1 + the index in seen[first:] of a key, by hash
	for it.Next() {
		key := it.Key()
		k := span{len(w.keys), len(w.keys) + len(key)}
		w.keys = append(w.keys, key...)
		w.way = append(w.way, segment{from: k.from, to: k.to})
		if w.had(first, &table, k) {
			return w.refuse(msgDuplicate)
		}
		// The objects in the value put their keys after this one's, and take them out.
		err := w.walk(d)
		w.way = w.way[:len(w.way)-1]
		if err != nil {
			return err
		}
	}
	return it.Err()
}

// had reports whether the object whose keys start at seen[first] already has the key at k,
// and adds it otherwise: compared one by one while the object is small, then found through
// table, an open-addressing hash table of the object's keys, grown to stay at most half full.
func (w *walker) had(first int, table *[]int32, k span) bool {
	key := w.keys[k.from:k.to]
	n := len(w.seen) - first
	if n < smallObject {
		for _, o := range w.seen[first:] {
			if bytes.Equal(w.keys[o.from:o.to], key) {
				return true
			}
		}
		w.seen = append(w.seen, k)
		return false
	}
	if 2*(n+1) > len(*table) {
		size := 1
		for size < 4*(n+1) {
			size *= 2 // a power of two, so that a mask picks the slot
		}
		*table = make([]int32, size)
		for i, o := range w.seen[first:] {
			w.place(*table, w.keys[o.from:o.to], int32(i+1))
		}
	}
	mask := len(*table) - 1
	for i := int(maphash.Bytes(w.seed, key)) & mask; ; i = (i + 1) & mask {
		slot := (*table)[i]
		if slot == 0 {
			(*table)[i] = int32(n + 1)
			w.seen = append(w.seen, k)
			return false
		}
		if o := w.seen[first+int(slot)-1]; bytes.Equal(w.keys[o.from:o.to], key) {
			return true
		}
	}
}

// place puts the index of a key known to be new in the table.
func (w *walker) place(table []int32, key []byte, index int32) {
	mask := len(table) - 1
	i := int(maphash.Bytes(w.seed, key)) & mask
	for table[i] != 0 {
		i = (i + 1) & mask
	}
	table[i] = index
}

// name names the value at the end of the way: "email", "items[0].title"; the body itself
// when the way is empty, too deep or too long to be worth naming.
func (w *walker) name() string {
	if len(w.way) == 0 || len(w.way) > maxNamedDepth {
		return bodyField
	}
	var b strings.Builder
	for i, s := range w.way {
		switch {
		case s.isIndex:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case i > 0:
			b.WriteString(".")
			b.Write(w.keys[s.from:s.to])
		default:
			b.Write(w.keys[s.from:s.to])
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

// notTextBytes is notText of a body's string, as the decoder hands it out.
func notTextBytes(s []byte) (string, bool) {
	switch {
	case bytes.IndexByte(s, 0) >= 0:
		return msgNUL, true
	case !utf8.Valid(s):
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
