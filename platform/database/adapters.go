package database

import (
	"fmt"
	"slices"
	"strings"
)

// Adapters is a module's registry of storage adapters: for each engine it supports, the
// constructor of what it stores there (a repository, a store, or a struct of several). It is
// the one place a module chooses by engine, so adding an engine to a module is one entry here,
// and an engine the module has no entry for is refused by name instead of falling through to
// another engine's adapter.
type Adapters[T any] map[Engine]func(*DB) T

// For returns module's adapter for db's engine, or an error naming the module, the engine and
// the engines the module supports.
func (a Adapters[T]) For(module string, db *DB) (T, error) {
	if mk, ok := a[db.Engine]; ok {
		return mk(db), nil
	}
	var none T
	return none, &NoAdapterError{Module: module, Engine: db.Engine, Supported: a.engines()}
}

func (a Adapters[T]) engines() []string {
	out := make([]string, 0, len(a))
	for e := range a {
		out = append(out, string(e))
	}
	slices.Sort(out)
	return out
}

// NoAdapterError says that a module has no adapter for the open database's engine.
type NoAdapterError struct {
	Module    string
	Engine    Engine
	Supported []string
}

// Error implements error.
func (e *NoAdapterError) Error() string {
	return fmt.Sprintf("module %s has no adapter for the %s engine (it has: %s)", e.Module, e.Engine, strings.Join(e.Supported, ", "))
}
