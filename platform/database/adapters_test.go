package database_test

import (
	"errors"
	"testing"

	"github.com/acme/userservice/platform/database"
)

func TestAdaptersChooseByEngineAndRefuseOthersByName(t *testing.T) {
	t.Parallel()
	reg := database.Adapters[string]{
		database.Postgres: func(*database.DB) string { return "pg" },
		database.SQLite:   func(*database.DB) string { return "lite" },
	}
	for _, tc := range []struct {
		engine  database.Engine
		want    string
		wantErr string
	}{
		{engine: database.Postgres, want: "pg"},
		{engine: database.SQLite, want: "lite"},
		{engine: database.MongoDB, wantErr: "module notes has no adapter for the mongodb engine (it has: postgres, sqlite)"},
		{engine: "oracle", wantErr: "module notes has no adapter for the oracle engine (it has: postgres, sqlite)"},
	} {
		t.Run(string(tc.engine), func(t *testing.T) {
			t.Parallel()
			got, err := reg.For("notes", &database.DB{Engine: tc.engine})
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("For = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			var nae *database.NoAdapterError
			if !errors.As(err, &nae) || err.Error() != tc.wantErr || nae.Engine != tc.engine {
				t.Fatalf("For = %q, %v; want %q", got, err, tc.wantErr)
			}
		})
	}
}
