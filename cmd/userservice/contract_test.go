package main

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
)

// The tests of this file hold a rule to every operation of the contract the service serves,
// found by walking the spec rather than listed: an operation added later is covered with no
// test changed.

// operation is one operation of the served contract.
type operation struct {
	method, path string
	op           *openapi3.Operation
}

// servedOperations returns the operations of the contract the running service serves
// (GET /openapi.json), in a stable order.
func servedOperations(t *testing.T, a *apptest.App) []operation {
	t.Helper()
	status, _, body := get(t, a.Base+"/openapi.json")
	if status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", status)
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method: method, path: path, op: op})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	if len(ops) == 0 {
		t.Fatal("the served contract has no operation")
	}
	return ops
}

// target is the operation's path with every path parameter set to id.
func (o operation) target(id string) string {
	var parts []string
	for _, seg := range strings.Split(o.path, "/") {
		if strings.HasPrefix(seg, "{") {
			seg = id
		}
		parts = append(parts, seg)
	}
	return strings.Join(parts, "/")
}

// problemFields reads the errors of a problem+json body.
func problemFields(t *testing.T, body string) []struct{ Field, Message string } {
	t.Helper()
	var p struct {
		Errors []struct{ Field, Message string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, body)
	}
	return p.Errors
}

// TestDuplicateKeysAreRefused: every operation that takes a JSON body refuses one with a key
// twice, with a 400 naming the key, before authentication and decoding (a proxy that reads the
// first of the two values would see another request than the service).
func TestDuplicateKeysAreRefused(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, database.SQLite, features())
	checked := 0
	for _, o := range servedOperations(t, a) {
		if o.op.RequestBody == nil || o.op.RequestBody.Value.Content.Get("application/json") == nil {
			continue
		}
		key := "key"
		if s := o.op.RequestBody.Value.Content.Get("application/json").Schema; s != nil && s.Value != nil {
			for name := range s.Value.Properties {
				if name < key || key == "key" {
					key = name
				}
			}
		}
		body := `{"` + key + `":"one","` + key + `":"two"}`
		status, h, got := a.Raw(t, o.method, o.target("3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10"), "", body)
		fields := problemFields(t, got)
		if status != http.StatusBadRequest || h.Get("Content-Type") != "application/problem+json" ||
			len(fields) != 1 || fields[0].Field != key || fields[0].Message != "is a duplicate key" {
			t.Errorf("%s %s with %s twice: %d %s", o.method, o.path, key, status, got)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no operation takes a JSON body")
	}
}

// send sends a request with an admin's token through a plain client (HEAD has no body for a
// validator to check) and returns the response with its body read.
func send(t *testing.T, method, url, token string) (answer, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

// answer is the status and headers of a response whose body send has read and closed.
type answer struct {
	StatusCode int
	Header     http.Header
}

// TestHeadAnswersAsGet: HEAD on every GET route of the served contract, and on the service's
// other GET endpoints, answers what GET does without the content (RFC 9110, 9.3.2): the same
// status and content headers, no body. The path parameters name the admin, so that a route of
// a user answers 200, and its other routes 404; each answer is compared with GET's.
func TestHeadAnswersAsGet(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		admin := a.NewAdmin(t)
		paths := []string{"/metrics", "/openapi.json", "/openapi.yaml", "/docs/"}
		for _, o := range servedOperations(t, a.App) {
			if o.method == http.MethodGet {
				paths = append(paths, o.target(admin.ID.String()))
			}
		}
		for _, path := range paths {
			get, getBody := send(t, http.MethodGet, a.Base+path, admin.Token)
			head, headBody := send(t, http.MethodHead, a.Base+path, admin.Token)
			if head.StatusCode != get.StatusCode || headBody != "" || getBody == "" {
				t.Errorf("HEAD %s: %d with %d bytes; GET: %d with %d bytes", path, head.StatusCode, len(headBody), get.StatusCode, len(getBody))
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options"} {
				if head.Header.Get(h) != get.Header.Get(h) {
					t.Errorf("HEAD %s: %s %q, GET's %q", path, h, head.Header.Get(h), get.Header.Get(h))
				}
			}
		}
		// A route without a GET still refuses HEAD, and says what it allows.
		resp, body := send(t, http.MethodHead, a.Base+"/auth/token", "")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || body != "" {
			t.Errorf("HEAD /auth/token: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		resp, _ = send(t, http.MethodPost, a.Base+"/users/me", admin.Token)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET,HEAD" {
			t.Errorf("POST /users/me: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}

// TestEmptyCursorsAreRefused: every list of the served contract that takes a cursor (after or
// cursor) answers one present but empty with a 400 naming it, one rule for all of them, and
// its first page when it is absent.
func TestEmptyCursorsAreRefused(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, a *api) {
		admin := a.NewAdmin(t)
		checked := 0
		for _, o := range servedOperations(t, a.App) {
			for _, p := range o.op.Parameters {
				if p.Value.In != "query" || (p.Value.Name != "after" && p.Value.Name != "cursor") {
					continue
				}
				path := o.target(admin.ID.String())
				if status, _, body := a.Raw(t, o.method, path, admin.Token, ""); status != http.StatusOK {
					t.Errorf("%s %s without %s: %d %s", o.method, path, p.Value.Name, status, body)
				}
				status, _, body := a.Raw(t, o.method, path+"?"+p.Value.Name+"=", admin.Token, "")
				fields := problemFields(t, body)
				if status != http.StatusBadRequest || len(fields) != 1 || fields[0].Field != p.Value.Name || fields[0].Message != "must not be empty" {
					t.Errorf("%s %s?%s=: %d %s", o.method, o.path, p.Value.Name, status, body)
				}
				checked++
			}
		}
		if checked < 3 { // GET /users, GET /events, GET /audit-events at least
			t.Fatalf("%d lists take a cursor", checked)
		}
	})
}
