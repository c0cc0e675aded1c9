package httpserver

import (
	"context"
	"net"
	"net/http"
)

// reqInfo is what the platform middleware knows about the request being served, kept in its
// context (one value, one allocation) for the code ogen calls, which sees no *http.Request.
type reqInfo struct {
	id         string
	clientAddr string
	header     http.Header
}

type reqInfoKey struct{}

func newReqInfo(w http.ResponseWriter, r *http.Request, id string) *reqInfo {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return &reqInfo{id: id, clientAddr: host, header: w.Header()}
}

// RequestID returns the id of the request in ctx.
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri.id
	}
	return ""
}

// ClientAddr returns the address of the client that sent the request in ctx: the peer of the
// TCP connection. Forwarding headers are ignored on purpose: anyone can send them, and a
// throttle keyed on them would be trivial to dodge. Behind a proxy, replace this with the
// proxy's trusted header.
func ClientAddr(ctx context.Context) string {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri.clientAddr
	}
	return ""
}

// setResponseHeaders adds headers to the response of the request in ctx, before ogen writes it.
func setResponseHeaders(ctx context.Context, headers map[string]string) {
	ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo)
	if !ok {
		return
	}
	for k, v := range headers {
		ri.header.Set(k, v)
	}
}
