// Package users is the users module: registration and lifecycle of users. Module is the one
// place that wires it; the command adds it to the application with one line.
package users

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	usersql "github.com/acme/userservice/queries/users"

	"github.com/acme/userservice/modules/users/internal/adapters/mongodb"
	"github.com/acme/userservice/modules/users/internal/adapters/postgres"
	"github.com/acme/userservice/modules/users/internal/adapters/rediscache"
	"github.com/acme/userservice/modules/users/internal/adapters/sqlite"
	"github.com/acme/userservice/modules/users/internal/httpapi"
	"github.com/acme/userservice/modules/users/internal/ports"
	"github.com/acme/userservice/modules/users/internal/service"
	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/events"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/kv"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/password"
	"github.com/acme/userservice/platform/problem"
	"github.com/acme/userservice/platform/throttle"
	"github.com/acme/userservice/platform/token"
)

// Module provides the Users operation group of the API (its part of the contract is api.yaml),
// the accounts behind the platform's identity port (who calls, creating admins), its error
// mapping and its migrations, on whichever database the platform opened.
var Module = fx.Module("users",
	fx.Provide(
		fx.Private,
		NewCache,
		NewService,
		httpapi.New,
	),
	fx.Provide(
		func(h *httpapi.Handler) oas.UsersHandler { return h },
		fx.Annotate(NewAccounts, fx.As(new(identity.Accounts))),
		fx.Annotate(NewAdmins, fx.As(new(identity.Admins))),
		fx.Annotate(NewDirectory, fx.As(new(identity.Directory))),
		fx.Annotate(func() problem.Mapper { return httpapi.Problem }, fx.ResultTags(`group:"problem_mappers"`)),
		fx.Annotate(Migrations, fx.ResultTags(`group:"migrations"`)),
		fx.Annotate(func() events.OutboxCollection { return events.OutboxCollection{Name: mongodb.Collection} },
			fx.ResultTags(`group:"mongo_outboxes"`)),
	),
)

// ServiceParams are what the users service needs from the platform.
type ServiceParams struct {
	fx.In
	DB       *database.DB
	Config   config.Config
	Hasher   *password.Hasher
	Tokens   *token.Signer
	Throttle throttle.Throttle
	// Signal wakes the event relays after events were committed.
	Signal *events.Signal
	// UserDeleted are the other modules' reactions to a user's deletion.
	UserDeleted []identity.UserDeleted `group:"user_deleted"`
	// Cache, when not nil, is put in front of the repositories (see NewCache).
	Cache *rediscache.Cache
}

// NewCache returns the Redis cache of the hot reads when REDIS_URL is set and CACHE_TTL is
// not 0; nil otherwise.
func NewCache(lc fx.Lifecycle, cfg config.Config, log *zap.Logger, reg prometheus.Registerer) (*rediscache.Cache, error) {
	if cfg.RedisURL == "" || cfg.CacheTTL <= 0 {
		return nil, nil
	}
	rdb, err := kv.Open(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(rdb.Close))
	return rediscache.New(rdb, cfg.CacheTTL, log.Named("cache"), reg)
}

// NewService returns the users service on the platform's database, password hasher, token
// signer and login throttle, with the login limits from the configuration.
func NewService(p ServiceParams) (*service.Service, error) {
	hooks := make([]ports.DeletionHook, len(p.UserDeleted))
	for i, h := range p.UserDeleted {
		hooks[i] = func(ctx context.Context, id uuid.UUID) error {
			if err := h.Run(ctx, id); err != nil {
				return fmt.Errorf("module %s: %w", h.Module, err)
			}
			return nil
		}
	}
	st, err := NewStorage(p.DB, p.Signal)
	if err != nil {
		return nil, err
	}
	users, sessions, uow := st.Users, st.Sessions, st.UoW
	if p.Cache != nil {
		users, sessions, uow = p.Cache.Repository(users), p.Cache.Sessions(sessions), p.Cache.UnitOfWork(uow)
	}
	return service.New(service.Deps{
		Users:    users,
		Sessions: sessions,
		UoW:      uow,
		Clock:    service.SystemClock{},
		Hasher:   p.Hasher,
		Tokens:   p.Tokens,
		Opaque:   token.Opaque{},
		Throttle: p.Throttle,
		Policy: service.LoginPolicy{
			SessionTTL:            p.Config.SessionTTL,
			RequireVerifiedEmail:  p.Config.RequireVerifiedEmail,
			MaxFailures:           p.Config.LoginMaxFailures,
			MaxFailuresPerAddr:    p.Config.LoginMaxFailuresPerAddr,
			MaxFailuresPerAccount: p.Config.LoginMaxFailuresPerAccount,
			Lockout:               p.Config.LoginLockout,
		},
		Registrations: service.RegistrationPolicy{
			MaxPerAddr: p.Config.RegistrationMaxPerAddr,
			Window:     p.Config.RegistrationWindow,
		},
		BeforeDelete: hooks,
	}), nil
}

// Storage is the users module's storage on one engine: its repositories, each call its own
// statement, and its unit of work.
type Storage struct {
	Users    ports.UserRepository
	Sessions ports.SessionRepository
	UoW      ports.UnitOfWork
}

// NewStorage returns the adapters for the open database's engine; sig (nil in tests without a
// relay) learns of the events they commit.
func NewStorage(db *database.DB, sig *events.Signal) (Storage, error) {
	return database.Adapters[Storage]{
		database.Postgres: func(db *database.DB) Storage {
			return Storage{postgres.NewRepository(db.Pool, sig.Appended), postgres.NewSessions(db.Pool), postgres.NewUnitOfWork(db.Pool, sig.Appended)}
		},
		database.SQLite: func(db *database.DB) Storage {
			return Storage{sqlite.NewRepository(db.SQL, sig.Appended), sqlite.NewSessions(db.SQL), sqlite.NewUnitOfWork(db.SQL, sig.Appended)}
		},
		database.MongoDB: func(db *database.DB) Storage {
			m := mongodb.New(db.Mongo, sig.Appended)
			return Storage{m.Repository(), m.Sessions(), m.UnitOfWork()}
		},
	}.For("users", db)
}

// Migrations returns the module's schema migrations for every engine; on MongoDB, its
// collection's indexes.
func Migrations() database.Migrations { return usersql.Migrations().WithMongo(mongodb.Indexes) }
