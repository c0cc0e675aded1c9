package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestConn drives the load generator's client against net/http's server through the framings
// the service answers with, on one connection, so each answer must leave the stream exactly at
// the next one.
func TestConn(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, _ *http.Request) {
		// Past net/http's buffer the answer is chunked.
		for range 100 {
			_, _ = io.WriteString(w, strings.Repeat("x", 1000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("DELETE /gone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /bye", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := newConn(strings.TrimPrefix(srv.URL, "http://"))
	defer c.close()
	steps := []struct {
		method, path, token, body string
		want                      int
		fails                     bool
	}{
		{"POST", "/echo", "tok", `{"a":1}`, 201, false},
		{"GET", "/big", "", "", 200, false},
		{"DELETE", "/gone", "", "", 204, false},
		{"GET", "/missing", "", "", 404, false},
		{"GET", "/missing", "", "", 200, true}, // a status other than wanted is an error
		{"POST", "/echo", "", `{}`, 201, true}, // no token: the server says 400
		{"GET", "/bye", "", "", 200, false},    // the server closes; the next request redials
		{"GET", "/big", "", "", 200, false},
		{"POST", "/echo", "tok", `{"b":2}`, 201, false},
	}
	for i, s := range steps {
		err := c.do(s.method, s.path, s.token, s.body, s.want)
		if (err != nil) != s.fails {
			t.Fatalf("step %d %s %s: error %v, want failure %v", i, s.method, s.path, err, s.fails)
		}
	}
}

// TestConnBrokenAnswer checks that garbage from the server is an error, not a hang.
func TestConnBrokenAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		_, _ = buf.WriteString("NOT HTTP\r\n\r\n")
		_ = buf.Flush()
		_ = conn.Close()
	}))
	defer srv.Close()
	c := newConn(strings.TrimPrefix(srv.URL, "http://"))
	if err := c.do("GET", "/", "", "", 200); err == nil || !strings.Contains(err.Error(), "malformed status line") {
		t.Fatalf("error %v, want a malformed status line", err)
	}
}
