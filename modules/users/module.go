// Package users is the users module: registration and lifecycle of users. Module is the one
// place that wires it; the command adds it to the application with one line.
package users

import (
	"go.uber.org/fx"

	usersql "github.com/acme/userservice/queries/users"

	"github.com/acme/userservice/modules/users/adapters/postgres"
	"github.com/acme/userservice/modules/users/adapters/sqlite"
	"github.com/acme/userservice/modules/users/httpapi"
	"github.com/acme/userservice/modules/users/ports"
	"github.com/acme/userservice/modules/users/service"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/oas"
	"github.com/acme/userservice/platform/problem"
)

// Module provides the Users operation group of the API, its error mapping, and its
// migrations, on whichever database the platform opened.
var Module = fx.Module("users",
	fx.Provide(
		fx.Private,
		NewUnitOfWork,
		func() service.Clock { return service.SystemClock{} },
		service.New,
	),
	fx.Provide(
		fx.Annotate(httpapi.New, fx.As(new(oas.UsersHandler))),
		fx.Annotate(func() problem.Mapper { return httpapi.Problem }, fx.ResultTags(`group:"problem_mappers"`)),
		fx.Annotate(Migrations, fx.ResultTags(`group:"migrations"`)),
	),
)

// NewUnitOfWork returns the unit of work of the adapter for the open database's engine.
func NewUnitOfWork(db *database.DB) ports.UnitOfWork {
	if db.Engine == database.Postgres {
		return postgres.NewUnitOfWork(db.Pool)
	}
	return sqlite.NewUnitOfWork(db.SQL)
}

// Migrations returns the module's schema migrations for every engine.
func Migrations() database.Migrations {
	return database.Migrations{
		Module:   "users",
		Postgres: usersql.PostgresMigrations(),
		SQLite:   usersql.SQLiteMigrations(),
	}
}
