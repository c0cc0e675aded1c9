package service_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"

	"github.com/acme/userservice/modules/users"
	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/modules/users/internal/service"
	"github.com/acme/userservice/platform/database/dbtest"
	"github.com/acme/userservice/platform/password"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/throttle/redistest"
	tokens "github.com/acme/userservice/platform/token"
	eventsql "github.com/acme/userservice/queries/events"
)

const pw = "correct horse battery"

func forEngineWithClock(t *testing.T, fn func(t *testing.T, svc *service.Service, clock *fakeClock)) {
	t.Helper()
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			svc, clock := newServiceWithClock(t, engine)
			fn(t, svc, clock)
		})
	}
}

func login(svc *service.Service, email, password, addr string) (service.Token, error) {
	return svc.Login(ctx, service.LoginInput{Email: email, Password: password, Client: service.Client{UserAgent: "test", Addr: addr}})
}

// authenticate does what the HTTP layer does for a protected operation: verify the token, then
// resolve the caller's account.
func authenticate(svc *service.Service, token string) (*domain.User, error) {
	c, err := credentialOf(svc, token)
	if err != nil {
		return nil, err
	}
	return svc.Caller(ctx, c)
}

// credentialOf verifies token as the platform does and returns what it says.
func credentialOf(svc *service.Service, token string) (ports.Credential, error) {
	v, err := svc.Tokens.(*tokens.Signer).Verify(token)
	if err != nil {
		return ports.Credential{}, fmt.Errorf("%w: %w", service.ErrUnauthenticated, err)
	}
	return ports.Credential{UserID: v.Subject, SessionID: v.Session}, nil
}

func TestLoginAndAuthenticate(t *testing.T) {
	t.Parallel()
	forEngineWithClock(t, func(t *testing.T, svc *service.Service, clock *fakeClock) {
		u, err := svc.Register(ctx, service.RegisterInput{Username: "john_doe", Email: "john@example.com", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash(), "$argon2id$") {
			t.Fatalf("stored %q", u.PasswordHash())
		}
		tok, err := login(svc, "JOHN@example.com", pw, "10.0.0.1")
		if err != nil || tok.Value == "" || tok.ExpiresIn != 15*time.Minute {
			t.Fatalf("login: %+v %v", tok, err)
		}
		me, err := authenticate(svc, tok.Value)
		if err != nil || me.Actor().ID != u.ID() || me.Actor().Role != domain.RoleUser {
			t.Fatalf("authenticate: %+v %v", me, err)
		}
		if me.Snapshot() != u.Snapshot() {
			t.Fatalf("me: %+v", me.Snapshot())
		}

		// Expired: the clock passes the token's lifetime.
		clock.advance(16 * time.Minute)
		if _, err := authenticate(svc, tok.Value); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("expired token: %v", err)
		}
		for _, bad := range []string{"", "garbage", tok.Value + "x"} {
			if _, err := authenticate(svc, bad); !errors.Is(err, service.ErrUnauthenticated) {
				t.Errorf("token %q: %v", bad, err)
			}
		}
	})
}

func TestEveryLoginFailureLooksTheSame(t *testing.T) {
	t.Parallel()
	forEngineWithClock(t, func(t *testing.T, svc *service.Service, _ *fakeClock) {
		mustRegister := func(in service.RegisterInput) *domain.User {
			u, err := svc.Register(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		mustRegister(service.RegisterInput{Username: "alice", Email: "alice@example.com", Password: pw})
		mustRegister(service.RegisterInput{Username: "nopass", Email: "nopass@example.com"})
		gone := mustRegister(service.RegisterInput{Username: "gone", Email: "gone@example.com", Password: pw})
		if _, err := svc.Deactivate(ctx, admin, gone.ID()); err != nil {
			t.Fatal(err)
		}
		tests := []struct{ name, email, password string }{
			{"unknown email", "nobody@example.com", pw},
			{"wrong password", "alice@example.com", pw + "!"},
			{"no password set", "nopass@example.com", pw},
			{"deactivated", "gone@example.com", pw},
		}
		for i, tc := range tests {
			// A distinct address each, so the address throttle stays out of it.
			_, err := login(svc, tc.email, tc.password, "10.0.1."+string(rune('0'+i)))
			if !errors.Is(err, service.ErrInvalidCredentials) || err.Error() != service.ErrInvalidCredentials.Error() {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})
}

// forThrottles runs fn on every engine with each throttle, both on the fake clock: the
// instance's own, and Redis (a server of the test's, each service under its own prefix).
func forThrottles(t *testing.T, fn func(t *testing.T, svc *service.Service, clock *fakeClock)) {
	t.Helper()
	srv := redistest.Start(t)
	kinds := []struct {
		name string
		on   func(t *testing.T, now func() time.Time) ports.Throttle
	}{
		{"memory", func(_ *testing.T, now func() time.Time) ports.Throttle { return throttle.New(now) }},
		{"redis", func(t *testing.T, now func() time.Time) ports.Throttle {
			r, err := throttle.NewRedis(srv.URL(), t.Name()+":", now, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		}},
	}
	for _, engine := range dbtest.Engines() {
		for _, k := range kinds {
			t.Run(string(engine)+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				svc, clock := newServiceOn(t, engine, func(now func() time.Time) ports.Throttle { return k.on(t, now) })
				fn(t, svc, clock)
			})
		}
	}
}

// throttledFor checks that err is a *service.ThrottledError whose Retry-After is within the
// lockout.
func throttledFor(t *testing.T, what string, err error) {
	t.Helper()
	var te *service.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 || te.RetryAfter > loginPolicy.Lockout {
		t.Fatalf("%s: %v; want throttled for at most %v", what, err, loginPolicy.Lockout)
	}
}

// TestLoginLimitPerAccountAndAddress: MaxFailures from one address block that address for
// that account only, until the lockout has passed.
func TestLoginLimitPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	forThrottles(t, func(t *testing.T, svc *service.Service, clock *fakeClock) {
		for _, name := range []string{"alice", "bob"} {
			if _, err := svc.Register(ctx, service.RegisterInput{Username: name, Email: name + "@example.com", Password: pw}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range loginPolicy.MaxFailures {
			if _, err := login(svc, "alice@example.com", "wrong password", "10.1.0.1"); !errors.Is(err, service.ErrInvalidCredentials) {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		_, err := login(svc, "ALICE@example.com", pw, "10.1.0.1")
		throttledFor(t, "the right password from the address that failed", err)
		if _, err := login(svc, "bob@example.com", pw, "10.1.0.1"); err != nil {
			t.Fatalf("another account from that address: %v", err)
		}
		if _, err := login(svc, "alice@example.com", pw, "10.1.0.2"); err != nil {
			t.Fatalf("the account from another address: %v", err)
		}
		clock.advance(loginPolicy.Lockout + time.Second)
		if _, err := login(svc, "alice@example.com", pw, "10.1.0.1"); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
	})
}

// TestLoginLimitPerAddress: MaxFailuresPerAddr from one address, on any accounts, block it for
// every account, until the lockout has passed. An IPv6 client counts as its /64, which a host
// may pick any address from; an IPv4-mapped address as its IPv4 address.
func TestLoginLimitPerAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		attackers func(i int) string
		same      string // another address of the attackers' network
		other     string
	}{
		{"IPv4", func(int) string { return "10.2.0.1" }, "10.2.0.1", "10.2.0.2"},
		{"IPv6 /64", func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) }, "2001:db8::ffff", "2001:db8:0:1::1"},
		{"IPv4-mapped", func(int) string { return "::ffff:10.3.0.1" }, "10.3.0.1", "::ffff:10.3.0.2"},
	}
	forThrottles(t, func(t *testing.T, svc *service.Service, clock *fakeClock) {
		if _, err := svc.Register(ctx, service.RegisterInput{Username: "alice", Email: "alice@example.com", Password: pw}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				for i := range loginPolicy.MaxFailuresPerAddr {
					// One failure per account: the limits per account stay out of it.
					if _, err := login(svc, fmt.Sprintf("x%d@example.com", i), "whatever1", tc.attackers(i)); !errors.Is(err, service.ErrInvalidCredentials) {
						t.Fatalf("failure %d: %v", i, err)
					}
				}
				_, err := login(svc, "alice@example.com", pw, tc.same)
				throttledFor(t, "an account never tried, from the blocked network", err)
				if _, err := login(svc, "alice@example.com", pw, tc.other); err != nil {
					t.Fatalf("another network: %v", err)
				}
			})
		}
		clock.advance(loginPolicy.Lockout + time.Second)
		if _, err := login(svc, "alice@example.com", pw, "10.2.0.1"); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
	})
}

// TestSprayingAnAccountLocksNobodyOut: failures of one account from many addresses put it
// under back-off, which throttles every address that failed on it (each below its own limit)
// and gives a new address one guess; the owner's right password from an address that has not
// failed still logs in, and the back-off ends with the lockout.
func TestSprayingAnAccountLocksNobodyOut(t *testing.T) {
	t.Parallel()
	forThrottles(t, func(t *testing.T, svc *service.Service, clock *fakeClock) {
		if _, err := svc.Register(ctx, service.RegisterInput{Username: "alice", Email: "alice@example.com", Password: pw}); err != nil {
			t.Fatal(err)
		}
		attacker := func(i int) string { return fmt.Sprintf("10.3.0.%d", i+1) }
		for i := range loginPolicy.MaxFailuresPerAccount {
			if _, err := login(svc, "alice@example.com", "guess", attacker(i)); !errors.Is(err, service.ErrInvalidCredentials) {
				t.Fatalf("guess from %s: %v", attacker(i), err)
			}
		}
		for i := range loginPolicy.MaxFailuresPerAccount {
			_, err := login(svc, "alice@example.com", "another guess", attacker(i))
			throttledFor(t, "a second guess under back-off from "+attacker(i), err)
		}
		_, err := login(svc, "alice@example.com", pw, attacker(0))
		throttledFor(t, "even the right password, from an address that failed", err)
		fresh := "10.3.1.1"
		if _, err := login(svc, "alice@example.com", "guess", fresh); !errors.Is(err, service.ErrInvalidCredentials) {
			t.Fatalf("a new address's one guess: %v", err)
		}
		_, err = login(svc, "alice@example.com", "guess", fresh)
		throttledFor(t, "the new address's second guess", err)

		if _, err := login(svc, "alice@example.com", pw, "192.0.2.7"); err != nil {
			t.Fatalf("the owner, from an address that has not failed, during the attack: %v", err)
		}
		clock.advance(loginPolicy.Lockout + time.Second)
		if _, err := login(svc, "alice@example.com", pw, attacker(0)); err != nil {
			t.Fatalf("after the back-off: %v", err)
		}
	})
}

func TestDeactivatedAndDeletedUsersTokensStopWorking(t *testing.T) {
	t.Parallel()
	forEngineWithClock(t, func(t *testing.T, svc *service.Service, _ *fakeClock) {
		u, _ := svc.Register(ctx, service.RegisterInput{Username: "john_doe", Email: "john@example.com", Password: pw})
		tok, err := login(svc, "john@example.com", pw, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		self, err := authenticate(svc, tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Deactivate(ctx, self.Actor(), u.ID()); err != nil {
			t.Fatalf("deactivate yourself: %v", err)
		}
		if _, err := authenticate(svc, tok.Value); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("deactivated user's token: %v", err)
		}
		// Get reads its caller itself, in the statement that reads the user.
		c, err := credentialOf(svc, tok.Value)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, c, u.ID()); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("deactivated user reads: %v", err)
		}
		if _, err := svc.Activate(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		// Deactivation ended the sessions: activation revives none of them.
		if _, err := authenticate(svc, tok.Value); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("reactivated user's old token: %v", err)
		}
		if tok, err = login(svc, "john@example.com", pw, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := authenticate(svc, tok.Value); err != nil {
			t.Fatalf("reactivated user's new token: %v", err)
		}
		if c, err = credentialOf(svc, tok.Value); err != nil {
			t.Fatal(err)
		}
		if err := svc.Delete(ctx, admin, u.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := authenticate(svc, tok.Value); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("deleted user's token: %v", err)
		}
		if _, err := svc.Get(ctx, c, u.ID()); !errors.Is(err, service.ErrUnauthenticated) {
			t.Fatalf("deleted user reads: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	forEngineWithClock(t, func(t *testing.T, svc *service.Service, _ *fakeClock) {
		u, _ := svc.Register(ctx, service.RegisterInput{Username: "john_doe", Email: "john@example.com", Password: pw})
		self := domain.Actor{ID: u.ID(), Role: domain.RoleUser}
		var ve *domain.ValidationError
		if err := svc.ChangePassword(ctx, self, pw, "short", "10.0.0.1"); !errors.As(err, &ve) {
			t.Fatalf("short new password: %v", err)
		}
		if err := svc.ChangePassword(ctx, self, "not it at all", "a brand new secret", "10.0.0.1"); !errors.Is(err, service.ErrWrongPassword) {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := svc.ChangePassword(ctx, self, pw, "a brand new secret", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := login(svc, "john@example.com", pw, "10.0.0.2"); !errors.Is(err, service.ErrInvalidCredentials) {
			t.Fatalf("old password still works: %v", err)
		}
		if _, err := login(svc, "john@example.com", "a brand new secret", "10.0.0.2"); err != nil {
			t.Fatalf("new password: %v", err)
		}
	})
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	svc := newService(t, "sqlite")
	tests := []struct {
		name, password string
		ok             bool
	}{
		{"none", "", true},
		{"8 characters", "12345678", true},
		{"7 characters", "1234567", false},
		{"128 characters", strings.Repeat("p", 128), true},
		{"129 characters is refused, not truncated", strings.Repeat("p", 129), false},
		{"multi-byte characters count once", strings.Repeat("é", 8), true},
	}
	for i, tc := range tests {
		_, err := svc.Register(ctx, service.RegisterInput{Username: "user_" + string(rune('a'+i)), Email: string(rune('a'+i)) + "@example.com", Password: tc.password})
		var ve *domain.ValidationError
		if tc.ok && err != nil || !tc.ok && (!errors.As(err, &ve) || ve.Fields[0].Field != "password") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, svc *service.Service) {
		a, _ := svc.Register(ctx, service.RegisterInput{Username: "alice", Email: "alice@example.com"})
		b, _ := svc.Register(ctx, service.RegisterInput{Username: "bob", Email: "bob@example.com"})
		alice := domain.Actor{ID: a.ID(), Role: domain.RoleUser}
		name := "alicia"
		role := domain.RoleAdmin
		tests := []struct {
			name    string
			run     func() error
			allowed bool
		}{
			{"read self", func() error { _, err := svc.Get(ctx, as(t, svc, a.ID()), a.ID()); return err }, true},
			{"read other", func() error { _, err := svc.Get(ctx, as(t, svc, a.ID()), b.ID()); return err }, false},
			{"update self", func() error { _, err := svc.Update(ctx, alice, a.ID(), domain.Changes{Username: &name}); return err }, true},
			{"update other", func() error { _, err := svc.Update(ctx, alice, b.ID(), domain.Changes{Username: &name}); return err }, false},
			{"promote self", func() error { _, err := svc.Update(ctx, alice, a.ID(), domain.Changes{Role: &role}); return err }, false},
			{"deactivate other", func() error { _, err := svc.Deactivate(ctx, alice, b.ID()); return err }, false},
			{"list", func() error { _, err := svc.List(ctx, alice, service.ListInput{}); return err }, false},
			{"activate self", func() error { _, err := svc.Activate(ctx, alice, a.ID()); return err }, false},
			{"delete other", func() error { return svc.Delete(ctx, alice, b.ID()) }, false},
			{"read missing other", func() error { _, err := svc.Get(ctx, as(t, svc, a.ID()), uuid.New()); return err }, false},
		}
		for _, tc := range tests {
			err := tc.run()
			if tc.allowed && err != nil || !tc.allowed && !errors.Is(err, domain.ErrForbidden) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		got, _ := svc.Get(ctx, as(t, svc, a.ID()), a.ID())
		if got.Role() != domain.RoleUser {
			t.Fatal("a refused promotion changed the role")
		}
		if u, err := svc.Update(ctx, admin, b.ID(), domain.Changes{Role: &role}); err != nil || u.Role() != domain.RoleAdmin {
			t.Fatalf("admin promotes: %v", err)
		}
	})
}

func TestCreateAdminAndRehashOnLogin(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t, users.Migrations(), eventsql.Migrations())
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	signer, _ := tokens.New([]byte("0123456789abcdef0123456789abcdef"), time.Minute, clock.Now)
	weak := password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	strong := weak
	strong.Iterations = 3
	newSvc := func(p password.Params) *service.Service {
		st := storage(t, db)
		return service.New(service.Deps{Users: st.Users, Sessions: st.Sessions, UoW: st.UoW,
			Clock: clock, Hasher: password.New(p), Tokens: signer, Opaque: tokens.Opaque{}, Throttle: throttle.New(clock.Now), Policy: loginPolicy})
	}
	old := newSvc(weak)
	if _, err := old.CreateAdmin(ctx, service.RegisterInput{Username: "root", Email: "root@example.com"}); err == nil {
		t.Fatal("an admin without a password was created")
	}
	u, err := old.CreateAdmin(ctx, service.RegisterInput{Username: "root", Email: "root@example.com", Password: pw})
	if err != nil || u.Role() != domain.RoleAdmin {
		t.Fatalf("create admin: %v", err)
	}
	if !strings.Contains(u.PasswordHash(), "t=1") {
		t.Fatalf("hash %q", u.PasswordHash())
	}
	upgraded := newSvc(strong)
	tok, err := login(upgraded, "root@example.com", pw, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// The rehash is no password change: the session just started goes on.
	got, err := authenticate(upgraded, tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.PasswordHash(), "t=3") {
		t.Fatalf("the hash was not upgraded on login: %q", got.PasswordHash())
	}
	if _, err := login(upgraded, "root@example.com", pw, "10.0.0.1"); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}

// countingHasher counts verifications of the real hasher.
type countingHasher struct {
	ports.PasswordHasher
	verifies atomic.Int32
}

func (c *countingHasher) Verify(password, encoded string) (bool, bool, error) {
	c.verifies.Add(1)
	return c.PasswordHasher.Verify(password, encoded)
}

// TestEveryLoginCostsOneVerification: an unknown email or a user without a password still
// costs one password verification, so response time does not reveal which accounts exist.
func TestEveryLoginCostsOneVerification(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t, users.Migrations(), eventsql.Migrations())
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	signer, _ := tokens.New([]byte("0123456789abcdef0123456789abcdef"), time.Minute, clock.Now)
	h := &countingHasher{PasswordHasher: password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})}
	st := storage(t, db)
	svc := service.New(service.Deps{Users: st.Users, UoW: st.UoW, Clock: clock, Hasher: h, Tokens: signer,
		Throttle: throttle.New(clock.Now), Policy: service.LoginPolicy{MaxFailures: 100, MaxFailuresPerAddr: 100, MaxFailuresPerAccount: 100, Lockout: time.Minute}})
	_, _ = svc.Register(ctx, service.RegisterInput{Username: "alice", Email: "alice@example.com", Password: pw})
	_, _ = svc.Register(ctx, service.RegisterInput{Username: "nopass", Email: "nopass@example.com"})
	for _, email := range []string{"alice@example.com", "nobody@example.com", "nopass@example.com"} {
		before := h.verifies.Load()
		_, _ = login(svc, email, "a wrong password", "10.0.0.1")
		if n := h.verifies.Load() - before; n != 1 {
			t.Errorf("%s: %d verifications", email, n)
		}
	}
}

// TestRegistrationsPerAddress: a client address may register MaxPerAddr times within the
// window, refused attempts included (a 409 tells an enumeration what it wants); then it waits
// until the oldest leaves the window, while other addresses register. An IPv6 client counts as
// its /64, and a limit of 0 is none.
func TestRegistrationsPerAddress(t *testing.T) {
	t.Parallel()
	policy := service.RegistrationPolicy{MaxPerAddr: 3, Window: time.Hour}
	forThrottles(t, func(t *testing.T, svc *service.Service, clock *fakeClock) {
		svc.Registrations = policy
		n := 0
		register := func(addr string) error {
			n++
			_, err := svc.Register(ctx, service.RegisterInput{Username: fmt.Sprintf("user_%d", n), Email: fmt.Sprintf("u%d@example.com", n), ClientAddr: addr})
			return err
		}
		tests := []struct {
			name       string
			from       func(i int) string
			same, next string
		}{
			{"IPv4", func(int) string { return "10.5.0.1" }, "10.5.0.1", "10.5.0.2"},
			{"IPv6 /64", func(i int) string { return fmt.Sprintf("2001:db8:5::%x", i+1) }, "2001:db8:5::ffff", "2001:db8:5:1::1"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := register(tc.from(0)); err != nil {
					t.Fatal(err)
				}
				// A taken email counts too.
				var exists *domain.AlreadyExistsError
				if _, err := svc.Register(ctx, service.RegisterInput{Username: "another", Email: fmt.Sprintf("u%d@example.com", n), ClientAddr: tc.from(1)}); !errors.As(err, &exists) {
					t.Fatalf("a taken email: %v", err)
				}
				if err := register(tc.from(2)); err != nil {
					t.Fatal(err)
				}
				var te *service.ThrottledError
				if err := register(tc.same); !errors.As(err, &te) || te.RetryAfter <= 0 || te.RetryAfter > policy.Window || te.What() != "registrations from your address" {
					t.Fatalf("a registration past the limit: %v", err)
				}
				if err := register(tc.next); err != nil {
					t.Fatalf("another address: %v", err)
				}
			})
		}
		clock.advance(policy.Window)
		if err := register("10.5.0.1"); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		svc.Registrations = service.RegistrationPolicy{MaxPerAddr: 0, Window: time.Hour}
		for range 2 * policy.MaxPerAddr {
			if err := register("10.5.0.9"); err != nil {
				t.Fatalf("no limit: %v", err)
			}
		}
	})
}
