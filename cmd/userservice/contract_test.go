package main

import (
	"encoding/json"
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
