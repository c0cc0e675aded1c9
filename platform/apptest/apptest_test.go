package apptest_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
)

// TestForEnginesRunsEveryEngine: each engine the service runs on gets its subtest, MongoDB
// included, and only one.
func TestForEnginesRunsEveryEngine(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		ran []database.Engine
	)
	// The subtests are parallel: they run after this function returns, and before its
	// cleanups.
	t.Cleanup(func() {
		slices.Sort(ran)
		want := []database.Engine{database.MongoDB, database.Postgres, database.SQLite}
		if !slices.Equal(ran, want) {
			t.Errorf("ran on %v; want %v", ran, want)
		}
	})
	apptest.ForEngines(t, func(t *testing.T, engine database.Engine) {
		if t.Name() != "TestForEnginesRunsEveryEngine/"+string(engine) {
			t.Errorf("the subtest of %s is %s", engine, t.Name())
		}
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, engine)
	})
}
