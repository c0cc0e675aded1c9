package apptest

import (
	"net"
	"net/http"
	"testing"

	"github.com/acme/userservice/platform/oas"
)

// From returns a generated client without credentials whose connections come from the
// loopback address ip (any of 127.0.0.0/8, which Linux answers on without setup), validated
// against openapi.yaml: the service sees ip as the client's address, so a test can play
// several clients, as the throttles per client address need.
func (a *App) From(t testing.TB, ip string) *oas.Client {
	t.Helper()
	local := net.ParseIP(ip)
	if local == nil || !local.IsLoopback() {
		t.Fatalf("apptest: From(%q): want a loopback address such as 127.0.0.2", ip)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}).DialContext
	t.Cleanup(transport.CloseIdleConnections)
	v := *a.Validator
	v.next = transport
	c, err := oas.NewClient(a.Base, oas.StaticToken(""), oas.WithClient(v.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
