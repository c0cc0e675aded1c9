package logging

import (
	"errors"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestDependencyLogsTransitionsOnly: an outage is one warning when it begins and one when it
// ends, naming the dependency and the component, however many failures come in between (from
// several workers at once); the failures in between are at debug level, and counted.
func TestDependencyLogsTransitionsOnly(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	d := NewDependency(zap.New(core), "mail sender", "database")
	d.Reachable() // up: nothing to say
	for range 2 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 25 {
					d.Unreachable(errors.New("connection refused"))
				}
			})
		}
		wg.Wait()
		for range 3 {
			d.Reachable()
		}
	}
	warnings := logs.FilterLevelExact(zapcore.WarnLevel).All()
	want := []string{"database unreachable", "database reachable again", "database unreachable", "database reachable again"}
	if len(warnings) != len(want) {
		t.Fatalf("%d warnings, want %d: %v", len(warnings), len(want), warnings)
	}
	for i, w := range warnings {
		fields := w.ContextMap()
		if w.Message != want[i] || fields["component"] != "mail sender" || fields["dependency"] != "database" {
			t.Errorf("warning %d: %q %v, want %q naming the component and the dependency", i, w.Message, fields, want[i])
		}
		if i%2 == 1 && fields["failures"] != int64(100) {
			t.Errorf("the recovery counts %v failures, want 100", fields["failures"])
		}
	}
	if n := logs.FilterMessage("database still unreachable").Len(); n != 2*99 {
		t.Errorf("%d failures at debug level, want %d", n, 2*99)
	}
}
