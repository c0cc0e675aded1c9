package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/acme/userservice/platform/apptest"
	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/database/dbtest"
)

// TestADatabaseOutageIsLoggedOnceEachWay stops the service's PostgreSQL for a while, with
// requests coming in: each background loop that uses the database (the event relay, the mail
// sender's workers) logs one warning when it goes away and one when it is back, naming the
// database and the loop, however many times it retried in between; requests' 503s warn not at
// all (their request lines say them).
func TestADatabaseOutageIsLoggedOnceEachWay(t *testing.T) {
	slow(t)
	t.Parallel()
	cluster := dbtest.StartCluster(t)
	core, logs := observer.New(zapcore.DebugLevel)
	a := startAPI(t, database.Postgres, apptest.Env("DATABASE_URL", cluster.URL()), withLogger(zap.New(core)))
	a.register(t, "before", "before@example.com")
	// The loops that retry every second and must not say so every second.
	components := []string{"event relay", "mail sender"}

	// warnings are the entries at warning level or above since the outage began.
	began := time.Now()
	warnings := func() []observer.LoggedEntry {
		return logs.Filter(func(e observer.LoggedEntry) bool { return e.Level >= zapcore.WarnLevel && !e.Time.Before(began) }).All()
	}
	of := func(component, message string) int {
		return logs.Filter(func(e observer.LoggedEntry) bool {
			return e.Message == message && e.ContextMap()["component"] == component && !e.Time.Before(began)
		}).Len()
	}
	cluster.Stop(t)
	for i := range 3 {
		status, _, _ := a.Raw(t, "POST", "/users", "", fmt.Sprintf(`{"username":"during_%d","email":"during%d@example.com"}`, i, i))
		if status != http.StatusServiceUnavailable {
			t.Fatalf("during the outage: %d", status)
		}
	}
	// The outage lasts until every loop has retried a few times (each at most a second apart),
	// or until the log is plainly flooded.
	waitForLog(t, "every loop to retry during the outage", func() bool {
		if len(warnings()) > 20 {
			return true
		}
		for _, c := range components {
			if of(c, "database still unreachable") < 3 {
				return false
			}
		}
		return true
	})
	during := warnings()
	for _, c := range components {
		if n := of(c, "database unreachable"); n != 1 {
			t.Errorf("%s: %d warnings that the database is unreachable, want 1", c, n)
		}
	}
	if len(during) != len(components) {
		t.Errorf("%d warnings during the outage, want %d (one per loop):\n%s", len(during), len(components), describeEntries(during))
	}

	cluster.Start(t)
	waitForLog(t, "every loop to see the database again", func() bool {
		for _, c := range components {
			if of(c, "database reachable again") == 0 {
				return false
			}
		}
		return true
	})
	a.register(t, "after", "after@example.com")
	for _, c := range components {
		back := logs.Filter(func(e observer.LoggedEntry) bool {
			return e.Message == "database reachable again" && e.ContextMap()["component"] == c
		}).All()
		if len(back) != 1 {
			t.Errorf("%s: %d warnings that the database is back, want 1", c, len(back))
			continue
		}
		if f := back[0].ContextMap(); f["dependency"] != "database" || f["failures"].(int64) < 4 {
			t.Errorf("%s: the recovery says %v; want the dependency and the failures it did not log", c, f)
		}
	}
	if all := warnings(); len(all) != 2*len(components) {
		t.Errorf("%d warnings for the whole outage, want %d:\n%s", len(all), 2*len(components), describeEntries(all))
	}
}

// waitForLog polls cond until it holds, failing the test after a minute.
func waitForLog(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// describeEntries lists log entries, one a line.
func describeEntries(entries []observer.LoggedEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  %s %q %v\n", e.Level, e.Message, e.ContextMap())
	}
	return b.String()
}
