package httpserver

import (
	"context"
	"net"
	"net/http"

	"github.com/acme/userservice/platform/reqctx"
)

func newReqInfo(w http.ResponseWriter, r *http.Request, id string) *reqctx.Info {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return &reqctx.Info{ID: id, ClientAddr: host, UserAgent: r.UserAgent(), Path: r.URL.Path, Header: w.Header()}
}

// RequestID returns the id of the request in ctx.
func RequestID(ctx context.Context) string { return reqctx.RequestID(ctx) }

// ClientAddr returns the address of the client that sent the request in ctx: the peer of the
// TCP connection. Forwarding headers are ignored on purpose: anyone can send them, and a
// throttle keyed on them would be trivial to dodge. Behind a proxy, replace this with the
// proxy's trusted header.
func ClientAddr(ctx context.Context) string {
	if info := reqctx.From(ctx); info != nil {
		return info.ClientAddr
	}
	return ""
}

// UserAgent returns the User-Agent of the request in ctx, or "".
func UserAgent(ctx context.Context) string {
	if info := reqctx.From(ctx); info != nil {
		return info.UserAgent
	}
	return ""
}

// setResponseHeaders adds headers to the response of the request in ctx, before ogen writes it.
func setResponseHeaders(ctx context.Context, headers map[string]string) {
	info := reqctx.From(ctx)
	if info == nil {
		return
	}
	for k, v := range headers {
		info.Header.Set(k, v)
	}
}
