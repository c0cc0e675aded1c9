package httpserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/go-faster/jx"

	"github.com/acme/userservice/platform/oas"
)

// TestBadString: where the first string that is not text is, however deep; a body that is not
// JSON, or whose escapes only look like \u0000, has none (ogen answers the former).
func TestBadString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, field, msg string }{
		{`{"a":"ok","b":"x\u0000"}`, "b", msgNUL},
		{`{"a":[1,{"b":["ok","\u0000"]}]}`, "a[1].b[1]", msgNUL},
		{"{\"a\":{\"b\":\"\xff\"}}", "a.b", msgUTF8},
		{`"\u0000"`, "body", msgNUL},
		{`["\u0000"]`, "[0]", msgNUL},
		{`{"a":"\\u0000"}`, "", ""},
		{`{"a":"\u0000`, "", ""},
		{`{"a":1,"b":true,"c":null,"d":"ok"}`, "", ""},
		{`{"":"\u0000"}`, "body", msgNUL},
		{strings.Repeat("[", 33) + `"\u0000"` + strings.Repeat("]", 33), "body", msgNUL},
		{`{"` + strings.Repeat("k", 201) + `":"\u0000"}`, "body", msgNUL},
	} {
		field, msg, bad := badBody(jx.DecodeStr(tc.body), true)
		if field != tc.field || msg != tc.msg || bad != (tc.msg != "") {
			t.Errorf("%s: %q %q %v; want %q %q", tc.body, field, msg, bad, tc.field, tc.msg)
		}
	}
}

// TestDuplicateKey: a key twice in one object is refused at any depth, named by its way, its
// escapes decoded first (the decoder would read "\u0065mail" as email); the same key in two
// objects is no duplicate. The walk finds it whether or not the strings need checking.
func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	many := func(n int, last string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		b.WriteString(`"` + last + `":0}`)
		return b.String()
	}
	for _, tc := range []struct{ body, field string }{
		{`{"email":"a@b.cc","password":"x","email":"c@d.ee"}`, "email"},
		{`{"email":"a@b.cc","\u0065mail":"c@d.ee"}`, "email"},
		{`{"a":{"b":1,"c":{"d":[1,{"e":1,"e":2}]}}}`, "a.c.d[1].e"},
		{`[{"a":1},{"a":1,"a":1}]`, "[1].a"},
		{`{"a":{"x":1},"b":{"x":1},"x":1}`, ""},
		{`{"a":{"x":1,"y":2},"a":{}}`, "a"},
		{`{"":1,"":2}`, "body"},
		{`{"Email":1,"email":2}`, ""},
		{many(smallObject, "k3"), "k3"},
		{many(5*smallObject, "k70"), "k70"},
		{many(5*smallObject, "new"), ""},
		{many(3000, "k2999"), "k2999"},
		{many(3000, "k0"), "k0"},
		{many(3000, "new"), ""},
		{`{"a":1,"a"`, ""},
		{`not json`, ""},
	} {
		for _, checkStrings := range []bool{false, true} {
			field, msg, bad := badBody(jx.DecodeStr(tc.body), checkStrings)
			want := tc.field != ""
			if bad != want || field != tc.field || (want && msg != msgDuplicate) {
				t.Errorf("%.60s (strings %v): %q %q %v; want %q", tc.body, checkStrings, field, msg, bad, tc.field)
			}
		}
	}
}

// TestBadStringOfADeepBody: the walk of a body nested as deep as JSON decoding allows costs
// about its size, not its depth squared (a 1 MB body of nested objects under 90-byte keys once
// took 4.4 GB).
func TestBadStringOfADeepBody(t *testing.T) {
	const depth = 9_000
	key := strings.Repeat("k", 90)
	body := strings.Repeat(`{"`+key+`":`, depth) + `"\u0000"` + strings.Repeat("}", depth)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	field, msg, bad := badBody(jx.DecodeStr(body), true)
	runtime.ReadMemStats(&after)
	if !bad || field != bodyField || msg != msgNUL {
		t.Fatalf("%q %q %v", field, msg, bad)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 20*uint64(len(body)) {
		t.Fatalf("the walk of a %d-byte body allocated %d bytes", len(body), n)
	}
}

// TestBadTextOfParameters: the operation's own query parameters must be text; others, which
// ogen ignores, are ignored here too; a body of another type is left to ogen (a 415).
func TestBadTextOfParameters(t *testing.T) {
	t.Parallel()
	srv, err := oas.NewServer(oas.UnimplementedHandler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, target, contentType, body string
		field                             string
	}{
		{"GET", "/users?cursor=a%00b", "", "", "cursor"},
		{"GET", "/users?limit=5&cursor=%FF", "", "", "cursor"},
		{"GET", "/users?utm=%FF", "", "", ""},
		{"GET", "/users?cursor=caf%C3%A9", "", "", ""},
		{"POST", "/auth/token", "application/json; charset=utf-8", `{"email":"\u0000"}`, "email"},
		{"POST", "/auth/token", "text/plain", `{"email":"\u0000"}`, ""},
		{"POST", "/auth/token", "application/json", `{"email":"a@b.cc","password":"x","email":"c@d.ee"}`, "email"},
		{"POST", "/auth/token", "application/json", `{"email":"a@b.cc","password":"x"}`, ""},
	} {
		u, _ := url.Parse(tc.target)
		route, ok := srv.FindPath(tc.method, u)
		if !ok {
			t.Fatalf("no route for %s %s", tc.method, tc.target)
		}
		r := &http.Request{Method: tc.method, URL: u, Header: http.Header{"Content-Type": {tc.contentType}}, Body: http.NoBody}
		if tc.body != "" {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tc.body)), int64(len(tc.body))
		}
		p, bad := badText(route, r)
		switch {
		case tc.field == "" && bad:
			t.Errorf("%s %s: refused: %+v", tc.method, tc.target, p)
		case tc.field != "" && (!bad || len(p.Errors) != 1 || p.Errors[0].Field != tc.field):
			t.Errorf("%s %s: %v %+v; want %s refused", tc.method, tc.target, bad, p, tc.field)
		}
		if tc.body != "" && !bad {
			if got, _ := io.ReadAll(r.Body); string(got) != tc.body {
				t.Errorf("%s %s: the server reads %q", tc.method, tc.target, got)
			}
		}
	}
}

// BenchmarkBadText measures what the text check adds to a registration's body: against the
// baseline of reading the body once, which the generated decoder does anyway. The check reads
// it, scans it once, and hands the decoder a copy.
func BenchmarkBadText(b *testing.B) {
	srv, err := oas.NewServer(oas.UnimplementedHandler{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse("/users")
	route, ok := srv.FindPath(http.MethodPost, u)
	if !ok {
		b.Fatal("no route for POST /users")
	}
	body := []byte(`{"username":"john_doe","email":"john@example.com","password":"correct horse battery"}`)
	rd := bytes.NewReader(body)
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	req := func() *http.Request {
		rd.Reset(body)
		return &http.Request{Method: http.MethodPost, URL: u, Header: jsonHeader, Body: io.NopCloser(rd), ContentLength: int64(len(body))}
	}
	b.Run("baseline: read the body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := io.ReadAll(req().Body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check, then read the copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := req()
			sent := r.Body
			if p, bad := badText(route, r); bad {
				b.Fatal(p)
			}
			if r.Body == sent { // not replaced by a copy: the check did not run
				b.Fatal("the body was not checked")
			}
			if _, err := io.ReadAll(r.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBodyWalk is the walk alone (duplicate keys, strings skipped), on a registration's
// body, on one of 40 keys nested three deep and on an object of 1 MiB of keys, against the
// floor of jx validating the body.
func BenchmarkBodyWalk(b *testing.B) {
	var nested strings.Builder
	nested.WriteString(`{"a":{"b":{`)
	for i := range 40 {
		fmt.Fprintf(&nested, `"key%d":"value %d",`, i, i)
	}
	nested.WriteString(`"end":1}}}`)
	var large strings.Builder
	large.WriteString("{")
	for i := 0; large.Len() < MaxBodyBytes-20; i++ {
		fmt.Fprintf(&large, `"k%d":1,`, i)
	}
	large.WriteString(`"end":1}`)
	for _, tc := range []struct{ name, body string }{
		{"registration", `{"username":"john_doe","email":"john@example.com","password":"correct horse battery"}`},
		{"40 keys", nested.String()},
		{"1 MiB of keys", large.String()},
	} {
		body := []byte(tc.body)
		b.Run(tc.name+", baseline: jx.Valid", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !jx.Valid(body) {
					b.Fatal("not JSON")
				}
			}
		})
		b.Run(tc.name+", walk", func(b *testing.B) {
			b.ReportAllocs()
			d := jx.GetDecoder()
			for b.Loop() {
				d.ResetBytes(body)
				if _, _, bad := badBody(d, false); bad {
					b.Fatal("refused")
				}
			}
		})
	}
}
