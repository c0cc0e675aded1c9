package httpserver

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
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
	} {
		field, msg, bad := badString(jx.DecodeStr(tc.body))
		if field != tc.field || msg != tc.msg || bad != (tc.field != "") {
			t.Errorf("%s: %q %q %v; want %q %q", tc.body, field, msg, bad, tc.field, tc.msg)
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
	req := func() *http.Request {
		rd.Reset(body)
		return &http.Request{Method: http.MethodPost, URL: u, Body: io.NopCloser(rd), ContentLength: int64(len(body))}
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
			if p, bad := badText(route, r); bad {
				b.Fatal(p)
			}
			if _, err := io.ReadAll(r.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
