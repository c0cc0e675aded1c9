package porttest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
)

// session stores a session of u created at at, living a day, and returns it with its first
// refresh token's digest.
func session(t *testing.T, s Store, u *domain.User, at time.Time) (domain.Session, []byte) {
	t.Helper()
	sess := domain.NewSession(uuid.Must(uuid.NewV7()), u.ID(), "test agent", "192.0.2.1", at, 24*time.Hour)
	digest := []byte(uuid.NewString())
	must(t, s.Sessions.Add(context.Background(), sess, digest))
	return sess, digest
}

func testGetCaller(t *testing.T, s Store) {
	ctx := context.Background()
	a := newUser(t, "alice", "alice@example.com", base)
	b := newUser(t, "bob", "bob@example.com", base)
	add(t, s.UoW, a, b)
	sa, _ := session(t, s, a, base)
	sb, _ := session(t, s, b, base)
	tests := []struct {
		name     string
		c        ports.Credential
		now      time.Time
		wantUser *domain.User
		wantLive bool
	}{
		{"live session", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, base.Add(time.Hour), a, true},
		{"expired session", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, sa.ExpiresAt, a, false},
		{"another user's session", ports.Credential{UserID: a.ID(), SessionID: sb.ID}, base, a, false},
		{"no such session", ports.Credential{UserID: a.ID(), SessionID: uuid.New()}, base, a, false},
		{"no such user", ports.Credential{UserID: uuid.New(), SessionID: sa.ID}, base, nil, false},
	}
	for _, tc := range tests {
		got, err := s.Users.GetCaller(ctx, tc.c)
		must(t, err)
		if got.SessionLive(tc.now) != tc.wantLive || (got.User == nil) != (tc.wantUser == nil) ||
			(got.User != nil && got.User.Snapshot() != tc.wantUser.Snapshot()) {
			t.Errorf("%s: got %+v", tc.name, got)
		}
	}
}

func testGetCallerAndUser(t *testing.T, s Store) {
	ctx := context.Background()
	a := newUser(t, "alice", "alice@example.com", base)
	b := newUser(t, "bob", "bob@example.com", base.Add(time.Second))
	add(t, s.UoW, a, b)
	sa, _ := session(t, s, a, base)
	missing := uuid.New()
	tests := []struct {
		name       string
		c          ports.Credential
		id         uuid.UUID
		wantCaller *domain.User
		wantLive   bool
		wantUser   *domain.User
	}{
		{"both", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, b.ID(), a, true, b},
		{"the caller themself", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, a.ID(), a, true, a},
		{"user missing", ports.Credential{UserID: a.ID(), SessionID: sa.ID}, missing, a, true, nil},
		{"caller missing", ports.Credential{UserID: missing, SessionID: sa.ID}, b.ID(), nil, false, b},
		{"session of another", ports.Credential{UserID: b.ID(), SessionID: sa.ID}, a.ID(), b, false, a},
		{"both missing", ports.Credential{UserID: missing, SessionID: uuid.New()}, uuid.New(), nil, false, nil},
	}
	same := func(x, y *domain.User) bool {
		return (x == nil) == (y == nil) && (x == nil || x.Snapshot() == y.Snapshot())
	}
	for _, tc := range tests {
		caller, user, err := s.Users.GetCallerAndUser(ctx, tc.c, tc.id)
		must(t, err)
		if !same(caller.User, tc.wantCaller) || caller.SessionLive(base.Add(time.Minute)) != tc.wantLive || !same(user, tc.wantUser) {
			t.Errorf("%s: got caller %+v, user %+v", tc.name, caller, user)
		}
	}
}

func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	other := newUser(t, "bob", "bob@example.com", base)
	add(t, s.UoW, u, other)
	first, _ := session(t, s, u, base)
	second, _ := session(t, s, u, base.Add(time.Minute))
	session(t, s, other, base)
	got, err := s.Sessions.List(ctx, u.ID(), base.Add(time.Hour))
	must(t, err)
	if len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("listed %+v, want the two sessions newest first: %+v, %+v", got, second, first)
	}
	got, err = s.Sessions.List(ctx, u.ID(), first.ExpiresAt)
	must(t, err)
	if len(got) != 1 || got[0].ID != second.ID {
		t.Fatalf("at the first's expiry, listed %+v, want only the second", got)
	}
	must(t, s.Sessions.DeleteExpired(ctx, u.ID(), first.ExpiresAt))
	got, err = s.Sessions.List(ctx, u.ID(), base)
	must(t, err)
	if len(got) != 1 || got[0].ID != second.ID {
		t.Fatalf("after deleting expired ones, listed %+v, want only the second", got)
	}
}

func testRefreshTokens(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	sess, digest := session(t, s, u, base)
	used, reused, err := s.Sessions.UseRefreshToken(ctx, digest, base.Add(time.Minute))
	must(t, err)
	if reused || used != sess {
		t.Fatalf("first use: reused %v, session %+v, want %+v", reused, used, sess)
	}
	used.Used("new agent", "198.51.100.7", base.Add(time.Minute))
	next := []byte("the next token's digest")
	must(t, s.Sessions.Refreshed(ctx, used, next))
	again, reused, err := s.Sessions.UseRefreshToken(ctx, digest, base.Add(2*time.Minute))
	must(t, err)
	if !reused || again.ID != sess.ID {
		t.Fatalf("second use: reused %v, session %+v", reused, again)
	}
	latest, reused, err := s.Sessions.UseRefreshToken(ctx, next, base.Add(3*time.Minute))
	must(t, err)
	if reused || latest != used {
		t.Fatalf("the rotated token: reused %v, session %+v, want %+v", reused, latest, used)
	}
	if _, _, err := s.Sessions.UseRefreshToken(ctx, []byte("never issued"), base); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := s.Sessions.Refreshed(ctx, domain.Session{ID: uuid.New(), UserID: u.ID()}, []byte("x")); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("refreshing a missing session: %v", err)
	}
}

func testConcurrentRefresh(t *testing.T, s Store) {
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	_, digest := session(t, s, u, base)
	const n = 16
	var (
		wg    sync.WaitGroup
		fresh atomic.Int32
	)
	for range n {
		wg.Go(func() {
			var reused bool
			err := s.UoW.Do(context.Background(), func(ctx context.Context, r ports.Repos) error {
				var err error
				_, reused, err = r.Sessions.UseRefreshToken(ctx, digest, base.Add(time.Minute))
				return err
			})
			if err != nil {
				t.Error(err)
			} else if !reused {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d of %d concurrent uses got the token as unused, want exactly 1", fresh.Load(), n)
	}
}

func testDeleteSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	other := newUser(t, "bob", "bob@example.com", base)
	add(t, s.UoW, u, other)
	keep, _ := session(t, s, u, base)
	one, oneDigest := session(t, s, u, base)
	two, _ := session(t, s, u, base)
	theirs, _ := session(t, s, other, base)
	if found, err := s.Sessions.Delete(ctx, u.ID(), theirs.ID); err != nil || found {
		t.Fatalf("deleting another user's session: found %v, %v", found, err)
	}
	found, err := s.Sessions.Delete(ctx, u.ID(), one.ID)
	must(t, err)
	if !found {
		t.Fatal("the session to delete was not found")
	}
	if _, _, err := s.Sessions.UseRefreshToken(ctx, oneDigest, base); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("a deleted session's token: %v", err)
	}
	if found, _ := s.Sessions.Delete(ctx, u.ID(), one.ID); found {
		t.Fatal("deleted twice")
	}
	ids, err := s.Sessions.DeleteAll(ctx, u.ID(), keep.ID)
	must(t, err)
	if len(ids) != 1 || ids[0] != two.ID {
		t.Fatalf("DeleteAll but one deleted %v, want [%s]", ids, two.ID)
	}
	ids, err = s.Sessions.DeleteAll(ctx, u.ID(), uuid.Nil)
	must(t, err)
	if len(ids) != 1 || ids[0] != keep.ID {
		t.Fatalf("DeleteAll deleted %v, want [%s]", ids, keep.ID)
	}
	left, err := s.Sessions.List(ctx, other.ID(), base)
	must(t, err)
	if len(left) != 1 {
		t.Fatalf("another user's sessions were touched: %+v", left)
	}
}

func testUserDeletionDeletesSessions(t *testing.T, s Store) {
	ctx := context.Background()
	u := newUser(t, "alice", "alice@example.com", base)
	add(t, s.UoW, u)
	_, digest := session(t, s, u, base)
	must(t, s.Users.Delete(ctx, u.ID()))
	if _, _, err := s.Sessions.UseRefreshToken(ctx, digest, base); !errors.Is(err, ports.ErrUnknownRefreshToken) {
		t.Fatalf("a deleted user's refresh token: %v", err)
	}
}
