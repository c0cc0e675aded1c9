// Package rediscache is a read-through cache of the users module's hot reads in Redis, as
// decorators of the module's ports: the account (and session) read of every authenticated
// request, and users by id. Use cases do not know it is there.
//
// Entries live TTL. Every write path invalidates after its commit: the decorated repositories
// after their statement, the decorated unit of work after a successful Do, with the keys its
// function touched. Invalidation writes a short-lived tombstone rather than deleting, and
// fills use SET NX: a reader that fetched the old row before the commit cannot put it back
// after the invalidation, so instances sharing the Redis never serve a change's old state
// past its commit (a deactivation on one is refused at the next request on another).
//
// Redis down never fails a request: every call has kv.Timeout, an error falls back to the
// database, and after any error the cache is bypassed for TTL, so that entries a failed
// invalidation left behind have expired before they are read again.
package rediscache

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/acme/userservice/modules/users/internal/domain"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/platform/kv"
)

const (
	prefix = "userservice:users:"
	// tombstone marks an invalidated key for tombstoneTTL: far longer than a fill's read.
	tombstone    = "-"
	tombstoneTTL = 5 * time.Second
	// dead is a cached session that is not one of its token's user's.
	dead = "0"
)

// Cache holds the connection, the settings and the counters the decorators share.
type Cache struct {
	rdb     *redis.Client
	ttl     time.Duration
	log     *zap.Logger
	group   singleflight.Group
	results *prometheus.CounterVec
	// bypassUntil (unix nanoseconds) is when the cache may be read again after an error.
	bypassUntil atomic.Int64
}

// New returns a cache on rdb whose entries live ttl, counting its results in reg.
func New(rdb *redis.Client, ttl time.Duration, log *zap.Logger, reg prometheus.Registerer) (*Cache, error) {
	c := &Cache{rdb: rdb, ttl: ttl, log: log, results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "users_cache_total",
		Help: "Reads of the users cache by result: hit, miss (read from the database and filled), error (Redis failed; read from the database) or bypass (after an error).",
	}, []string{"result"})}
	if err := reg.Register(c.results); err != nil {
		return nil, err
	}
	return c, nil
}

func userKey(id uuid.UUID) string    { return prefix + "u:" + id.String() }
func sessionKey(id uuid.UUID) string { return prefix + "s:" + id.String() }

// usable reports whether the cache may be read now.
func (c *Cache) usable() bool {
	if time.Now().UnixNano() < c.bypassUntil.Load() {
		c.results.WithLabelValues("bypass").Inc()
		return false
	}
	return true
}

// failed records a Redis error: the cache is bypassed for ttl.
func (c *Cache) failed(op string, err error) {
	c.results.WithLabelValues("error").Inc()
	if c.bypassUntil.Swap(time.Now().Add(c.ttl).UnixNano()) < time.Now().UnixNano() {
		c.log.Warn("users cache: Redis failed; reading the database", zap.String("op", op), zap.Error(err))
	}
}

// get reads keys in one round trip; ok is false unless every one holds a value (a tombstone
// is no value).
func (c *Cache) get(ctx context.Context, keys ...string) (vals []string, ok bool) {
	if !c.usable() {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, kv.Timeout)
	defer cancel()
	got, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		c.failed("get", err)
		return nil, false
	}
	vals = make([]string, len(got))
	for i, v := range got {
		s, isString := v.(string)
		if !isString || s == tombstone {
			c.results.WithLabelValues("miss").Inc()
			return nil, false
		}
		vals[i] = s
	}
	c.results.WithLabelValues("hit").Inc()
	return vals, true
}

// fill stores values (key, value pairs) unless a key holds something, a tombstone included.
func (c *Cache) fill(ctx context.Context, pairs ...string) {
	if len(pairs) == 0 || !c.usable() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kv.Timeout)
	defer cancel()
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < len(pairs); i += 2 {
			p.SetNX(ctx, pairs[i], pairs[i+1], c.ttl)
		}
		return nil
	})
	if err != nil {
		c.failed("fill", err)
	}
}

// invalidate tombstones keys after a commit.
func (c *Cache) invalidate(ctx context.Context, keys ...string) {
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kv.Timeout)
	defer cancel()
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, tombstone, tombstoneTTL)
		}
		return nil
	})
	if err != nil {
		c.failed("invalidate", err)
	}
}

func encode(u *domain.User) (string, error) {
	b, err := json.Marshal(u.Snapshot())
	return string(b), err
}

func decode(s string) (*domain.User, error) {
	var snap domain.Snapshot
	if err := json.Unmarshal([]byte(s), &snap); err != nil {
		return nil, err
	}
	return domain.Restore(snap), nil
}

// userPair is the fill of a user's key, or nothing for a missing user.
func userPair(u *domain.User) []string {
	if u == nil {
		return nil
	}
	s, err := encode(u)
	if err != nil {
		return nil
	}
	return []string{userKey(u.ID()), s}
}

// sessionValue is what the session's key holds after a read for c: the session's user and
// expiry ("<user id> <unix seconds>"), or dead when it is not one of the user's.
func sessionValue(c ports.Credential, read ports.CallerAccount) string {
	if read.SessionExpires.IsZero() {
		return dead
	}
	return c.UserID.String() + " " + strconv.FormatInt(read.SessionExpires.Unix(), 10)
}

// sessionExpires reads a session's key for c: its expiry if it is c's user's session, zero
// otherwise.
func sessionExpires(v string, c ports.Credential) time.Time {
	owner, unix, ok := strings.Cut(v, " ")
	if !ok || owner != c.UserID.String() {
		return time.Time{}
	}
	n, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return ports.SessionExpiry(n)
}

// shared returns the context of a read that several requests wait for (singleflight): the
// first request's deadline, but not its cancellation, so that one client hanging up does not
// fail the others.
func shared(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), deadline)
	}
	return context.WithCancel(context.WithoutCancel(ctx))
}

// Repository decorates a UserRepository with the cache. When inner reads several users at
// once (ports.UsersReader), so does the decorator.
func (c *Cache) Repository(inner ports.UserRepository) ports.UserRepository {
	r := &repository{UserRepository: inner, c: c}
	if many, ok := inner.(ports.UsersReader); ok {
		return &batchRepository{repository: r, many: many}
	}
	return r
}

type repository struct {
	ports.UserRepository
	c *Cache
}

// batchRepository is the decorator of a repository that reads several users at once.
type batchRepository struct {
	*repository
	many ports.UsersReader
}

// GetMany reads past the cache: a batch is the mail sender's, of users just registered or just
// changed, whom the cache would hold only to drop them.
func (b *batchRepository) GetMany(ctx context.Context, ids []uuid.UUID) ([]*domain.User, error) {
	return b.many.GetMany(ctx, ids)
}

// Get reads the user through the cache.
func (r *repository) Get(ctx context.Context, id uuid.UUID) (*domain.User, error) {
	if vals, ok := r.c.get(ctx, userKey(id)); ok {
		if u, err := decode(vals[0]); err == nil {
			return u, nil
		}
	}
	v, err, _ := r.c.group.Do("get "+id.String(), func() (any, error) {
		ctx, cancel := shared(ctx)
		defer cancel()
		u, err := r.UserRepository.Get(ctx, id)
		if err == nil {
			r.c.fill(ctx, userPair(u)...)
		}
		return u, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*domain.User), nil
}

// GetCaller reads the account and the session through the cache.
func (r *repository) GetCaller(ctx context.Context, cr ports.Credential) (ports.CallerAccount, error) {
	if vals, ok := r.c.get(ctx, userKey(cr.UserID), sessionKey(cr.SessionID)); ok {
		if u, err := decode(vals[0]); err == nil {
			return ports.CallerAccount{User: u, SessionExpires: sessionExpires(vals[1], cr)}, nil
		}
	}
	v, err, _ := r.c.group.Do("caller "+cr.UserID.String()+" "+cr.SessionID.String(), func() (any, error) {
		ctx, cancel := shared(ctx)
		defer cancel()
		read, err := r.UserRepository.GetCaller(ctx, cr)
		if err == nil && read.User != nil {
			r.c.fill(ctx, append(userPair(read.User), sessionKey(cr.SessionID), sessionValue(cr, read))...)
		}
		return read, err
	})
	if err != nil {
		return ports.CallerAccount{}, err
	}
	return v.(ports.CallerAccount), nil
}

// callerAndUser is GetCallerAndUser's result, for singleflight.
type callerAndUser struct {
	read ports.CallerAccount
	user *domain.User
}

// GetCallerAndUser reads the caller, their session and the user through the cache.
func (r *repository) GetCallerAndUser(ctx context.Context, cr ports.Credential, id uuid.UUID) (ports.CallerAccount, *domain.User, error) {
	if vals, ok := r.c.get(ctx, userKey(cr.UserID), sessionKey(cr.SessionID), userKey(id)); ok {
		caller, err1 := decode(vals[0])
		user, err2 := decode(vals[2])
		if err1 == nil && err2 == nil {
			return ports.CallerAccount{User: caller, SessionExpires: sessionExpires(vals[1], cr)}, user, nil
		}
	}
	v, err, _ := r.c.group.Do("caller "+cr.UserID.String()+" "+cr.SessionID.String()+" and "+id.String(), func() (any, error) {
		ctx, cancel := shared(ctx)
		defer cancel()
		read, user, err := r.UserRepository.GetCallerAndUser(ctx, cr, id)
		if err == nil && read.User != nil {
			pairs := append(userPair(read.User), sessionKey(cr.SessionID), sessionValue(cr, read))
			if id != cr.UserID {
				pairs = append(pairs, userPair(user)...)
			}
			r.c.fill(ctx, pairs...)
		}
		return callerAndUser{read, user}, err
	})
	if err != nil {
		return ports.CallerAccount{}, nil, err
	}
	res := v.(callerAndUser)
	return res.read, res.user, nil
}

// Update saves u, then invalidates it.
func (r *repository) Update(ctx context.Context, u *domain.User) error {
	if err := r.UserRepository.Update(ctx, u); err != nil {
		return err
	}
	r.c.invalidate(ctx, userKey(u.ID()))
	return nil
}

// Delete deletes the user, then invalidates it.
func (r *repository) Delete(ctx context.Context, id uuid.UUID) error {
	if err := r.UserRepository.Delete(ctx, id); err != nil {
		return err
	}
	r.c.invalidate(ctx, userKey(id))
	return nil
}

// Sessions decorates a SessionRepository: revoking a session invalidates it.
func (c *Cache) Sessions(inner ports.SessionRepository) ports.SessionRepository {
	return &sessions{SessionRepository: inner, c: c}
}

type sessions struct {
	ports.SessionRepository
	c *Cache
}

// Delete revokes the session, then invalidates it.
func (s *sessions) Delete(ctx context.Context, userID, id uuid.UUID) (bool, error) {
	found, err := s.SessionRepository.Delete(ctx, userID, id)
	if found {
		s.c.invalidate(ctx, sessionKey(id))
	}
	return found, err
}

// DeleteAll revokes the sessions, then invalidates them.
func (s *sessions) DeleteAll(ctx context.Context, userID, except uuid.UUID) ([]uuid.UUID, error) {
	ids, err := s.SessionRepository.DeleteAll(ctx, userID, except)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = sessionKey(id)
	}
	s.c.invalidate(ctx, keys...)
	return ids, err
}

// UnitOfWork decorates a UnitOfWork: after a commit, it invalidates what the function wrote.
func (c *Cache) UnitOfWork(inner ports.UnitOfWork) ports.UnitOfWork {
	return &unitOfWork{inner: inner, c: c}
}

type unitOfWork struct {
	inner ports.UnitOfWork
	c     *Cache
}

// Do runs fn in the inner unit of work, recording the keys its writes touch, and invalidates
// them once it committed.
func (w *unitOfWork) Do(ctx context.Context, fn func(ctx context.Context, r ports.Repos) error) error {
	var touched []string
	err := w.inner.Do(ctx, func(ctx context.Context, r ports.Repos) error {
		r.Users = &userRecorder{UserRepository: r.Users, touched: &touched}
		r.Sessions = &sessionRecorder{SessionRepository: r.Sessions, touched: &touched}
		return fn(ctx, r)
	})
	if err == nil {
		w.c.invalidate(ctx, touched...)
	}
	return err
}

// userRecorder notes the users a unit of work changes.
type userRecorder struct {
	ports.UserRepository
	touched *[]string
}

func (r *userRecorder) Update(ctx context.Context, u *domain.User) error {
	*r.touched = append(*r.touched, userKey(u.ID()))
	return r.UserRepository.Update(ctx, u)
}

func (r *userRecorder) Delete(ctx context.Context, id uuid.UUID) error {
	*r.touched = append(*r.touched, userKey(id))
	return r.UserRepository.Delete(ctx, id)
}

// sessionRecorder notes the sessions a unit of work revokes.
type sessionRecorder struct {
	ports.SessionRepository
	touched *[]string
}

func (r *sessionRecorder) Delete(ctx context.Context, userID, id uuid.UUID) (bool, error) {
	*r.touched = append(*r.touched, sessionKey(id))
	return r.SessionRepository.Delete(ctx, userID, id)
}

func (r *sessionRecorder) DeleteAll(ctx context.Context, userID, except uuid.UUID) ([]uuid.UUID, error) {
	ids, err := r.SessionRepository.DeleteAll(ctx, userID, except)
	for _, id := range ids {
		*r.touched = append(*r.touched, sessionKey(id))
	}
	return ids, err
}
