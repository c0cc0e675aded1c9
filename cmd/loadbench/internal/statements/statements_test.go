package statements_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/acme/userservice/cmd/loadbench/internal/statements"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
	eventsql "github.com/acme/userservice/queries/events"
	usersql "github.com/acme/userservice/queries/users"
)

// TestEveryStatementPrepares: what the benchmark reads from queries/ is SQL the engine takes,
// on the service's schema (sqlc's macros expanded, parameters numbered).
func TestEveryStatementPrepares(t *testing.T) {
	t.Chdir(filepath.Join("..", "..", "..", "..")) // the repository root
	for _, engine := range dbtest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			stmts, err := statements.Load(string(engine))
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) < 10 {
				t.Fatalf("only %d statements", len(stmts))
			}
			db := dbtest.Open(t, engine, usersql.Migrations(), eventsql.Migrations())
			for name, sql := range stmts {
				if engine == database.Postgres {
					_, err = db.Pool.Exec(context.Background(), "PREPARE loadbench_check AS "+sql)
					if err == nil {
						_, err = db.Pool.Exec(context.Background(), "DEALLOCATE loadbench_check")
					}
				} else {
					var st interface{ Close() error }
					if st, err = db.SQL.Prepare(sql); err == nil {
						_ = st.Close()
					}
				}
				if err != nil {
					t.Errorf("%s: %v\n%s", name, err, sql)
				}
			}
		})
	}
}
