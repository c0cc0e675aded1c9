// Package reqctx carries what the platform knows about the request being served in its
// context: its id and the client's address. The HTTP middleware sets it once per request (one
// value, one allocation); code that sees no *http.Request (generated handlers, use cases'
// adapters, the event outbox) reads it here.
package reqctx

import (
	"context"
	"net/http"
)

// Info is what is known about a request.
type Info struct {
	// ID is the request id, echoed in X-Request-Id.
	ID string
	// ClientAddr is the TCP peer's address.
	ClientAddr string
	// UserAgent is the request's User-Agent header, as the client sent it.
	UserAgent string
	// Path is the request's path, the instance of the problems it gets.
	Path string
	// Header is the response's header, for headers set before the response is written.
	Header http.Header
}

type key struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request's info, or nil outside a request.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(key{}).(*Info)
	return info
}

// RequestID returns the id of the request in ctx, or "".
func RequestID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.ID
	}
	return ""
}
