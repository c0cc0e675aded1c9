package users_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/throttle/redistest"
)

// registerFrom registers a user named name from the loopback address ip and returns the
// answer.
func (a *api) registerFrom(t *testing.T, ip, name string) oas.RegisterUserRes {
	t.Helper()
	res, err := a.From(t, ip).RegisterUser(ctx, &oas.RegisterUserRequest{Username: oas.Username(name), Email: oas.Email(name + "@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tooMany checks that res is a 429 with a Retry-After of at most limit seconds.
func tooMany(t *testing.T, what string, res oas.RegisterUserRes, limit int) {
	t.Helper()
	r, ok := res.(*oas.TooManyRequestsHeaders)
	if !ok || r.RetryAfter.Or(0) < 1 || r.RetryAfter.Or(0) > limit || r.Response.Status != http.StatusTooManyRequests {
		t.Fatalf("%s: %T %+v; want 429 with a Retry-After up to %d", what, res, res, limit)
	}
}

// TestRegistrationIsThrottledOverHTTP: a client address registers REGISTRATION_MAX_PER_ADDR
// times in REGISTRATION_WINDOW, a 409 counting as a 201 does, then gets 429 with Retry-After;
// a concurrent burst gets exactly the limit through; another address registers. On every
// engine, with the throttle in the instance and in Redis.
func TestRegistrationIsThrottledOverHTTP(t *testing.T) {
	t.Parallel()
	throttles := []struct {
		name string
		opts func(t *testing.T) []apptest.Option
	}{
		{"memory", func(*testing.T) []apptest.Option { return nil }},
		{"redis", func(t *testing.T) []apptest.Option {
			return []apptest.Option{apptest.Env("REDIS_URL", redistest.Start(t).URL())}
		}},
	}
	for _, th := range throttles {
		t.Run(th.name, func(t *testing.T) {
			t.Parallel()
			opts := func(t *testing.T) []apptest.Option {
				return append(th.opts(t), apptest.Env("REGISTRATION_MAX_PER_ADDR", "3"), apptest.Env("REGISTRATION_WINDOW", "10m"))
			}
			forEngineWith(t, opts, func(t *testing.T, a *api) {
				if res := a.registerFrom(t, "127.0.0.2", "first"); !is[*oas.UserHeaders](res) {
					t.Fatalf("a registration: %T %+v", res, res)
				}
				if res := a.registerFrom(t, "127.0.0.2", "first"); !is[*oas.RegisterUserConflict](res) {
					t.Fatalf("a taken name: %T %+v", res, res)
				}
				if res := a.registerFrom(t, "127.0.0.2", "second"); !is[*oas.UserHeaders](res) {
					t.Fatalf("a registration: %T %+v", res, res)
				}
				tooMany(t, "a fourth attempt", a.registerFrom(t, "127.0.0.2", "third"), 600)
				if res := a.registerFrom(t, "127.0.0.3", "third"); !is[*oas.UserHeaders](res) {
					t.Fatalf("another address: %T %+v", res, res)
				}

				var (
					wg      sync.WaitGroup
					created atomic.Int32
					burst   = a.From(t, "127.0.0.4")
				)
				for i := range 12 {
					wg.Go(func() {
						name := fmt.Sprintf("burst_%d", i)
						res, err := burst.RegisterUser(ctx, &oas.RegisterUserRequest{Username: oas.Username(name), Email: oas.Email(name + "@example.com")})
						if err != nil {
							t.Error(err)
						} else if is[*oas.UserHeaders](res) {
							created.Add(1)
						}
					})
				}
				wg.Wait()
				if n := created.Load(); n != 3 {
					t.Fatalf("a burst of 12 from one address created %d users; want the limit, 3", n)
				}
			})
		})
	}
}

// TestRegistrationLimitAcrossInstances: with REDIS_URL, two instances count one address's
// registrations together.
func TestRegistrationLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	var instances [2]*api
	for i := range instances {
		instances[i] = startAPI(t, database.SQLite, apptest.Env("REDIS_URL", rds.URL()), apptest.Env("REGISTRATION_MAX_PER_ADDR", "3"))
	}
	for i, name := range []string{"one", "two", "three"} {
		if res := instances[i%2].registerFrom(t, "127.0.0.5", name); !is[*oas.UserHeaders](res) {
			t.Fatalf("registration %d: %T %+v", i+1, res, res)
		}
	}
	tooMany(t, "a fourth registration on the other instance", instances[1].registerFrom(t, "127.0.0.5", "four"), 3600)
}
