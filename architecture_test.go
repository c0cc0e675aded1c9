package userservice_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rule, enforced: dependencies point inward. These tests read the real package graph
// with `go list` and fail on any import that breaks the architecture (see README, Design).

const modulePath = "github.com/acme/userservice"

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
	Standard     bool
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestImportRulesCatchViolations feeds the checker a graph that breaks every rule, so the rule
// test above cannot pass by checking nothing.
func TestImportRulesCatchViolations(t *testing.T) {
	t.Parallel()
	m := modulePath + "/modules/"
	bad := []pkg{
		{ImportPath: m + "a/domain", Imports: []string{"fmt", "github.com/jackc/pgx/v5"}, Deps: []string{"fmt", "github.com/jackc/pgx/v5"}},
		{ImportPath: m + "a/service", Imports: []string{m + "b/service", "go.uber.org/zap"}},
		{ImportPath: m + "a/httpapi", Imports: []string{m + "b/ports", m + "b"}},
		{ImportPath: m + "a", Imports: []string{m + "b"}, XTestImports: []string{m + "b", m + "b/domain"}},
		{ImportPath: m + "a/httpapi", Imports: []string{m + "a/adapters/postgres"}},
		{ImportPath: modulePath + "/platform/httpserver", Imports: []string{m + "a/domain"}},
		{ImportPath: modulePath + "/cmd/x", Imports: []string{m + "a/adapters/sqlite"}},
	}
	got := violations(bad)
	// A module's tests may compose the application with another module's root package: the
	// users module, to log in.
	if slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, "modules/a (tests) import modules/b:") }) {
		t.Errorf("a test composing another module was reported: %q", got)
	}
	want := []string{
		"modules/a/domain depends on github.com/jackc/pgx/v5",
		"modules/a/service imports modules/b/service",
		"modules/a/httpapi imports modules/b/ports",
		"modules/a/httpapi imports modules/b:",
		"modules/a imports modules/b:",
		"modules/a (tests) import modules/b/domain",
		"modules/a/service imports go.uber.org/zap",
		"modules/a/httpapi imports modules/a/adapters/postgres",
		"platform/httpserver imports modules/a/domain",
		"cmd/x imports modules/a/adapters/sqlite",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, w) }) {
			t.Errorf("checker missed %q; reported %q", w, got)
		}
	}
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports,Deps,Standard", "./...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// layer describes a package of ours: its module ("" outside modules/) and its role there.
func layer(path string) (module, role string, ours bool) {
	rel, ok := strings.CutPrefix(path, modulePath+"/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rel, "/")
	if parts[0] != "modules" || len(parts) < 2 {
		return "", parts[0], true
	}
	if len(parts) == 2 {
		return parts[1], "wiring", true
	}
	return parts[1], parts[2], true
}

func stdlib(path string) bool { return !strings.Contains(strings.Split(path, "/")[0], ".") }

// innerAllows reports whether a package in an inner layer (role) of module may import imp,
// besides the standard library; applies is false for the outer layers.
func innerAllows(role, module, imp string) (allowed, applies bool) {
	switch role {
	case "domain":
		// Nothing but the UUID package (also checked on every transitive dependency).
		return imp == "github.com/google/uuid", true
	case "ports", "service":
		// The UUID package and their own module's inner layers.
		return ownInner(module, imp), true
	}
	return true, false
}

func ownInner(module, imp string) bool {
	if imp == "github.com/google/uuid" {
		return true
	}
	m, role, ours := layer(imp)
	return ours && m == module && (role == "domain" || role == "ports")
}

func violations(pkgs []pkg) []string {
	var out []string
	report := func(from, format string, args ...any) {
		out = append(out, strings.TrimPrefix(from, modulePath+"/")+" "+fmt.Sprintf(format, args...))
	}
	for _, p := range pkgs {
		if p.Standard {
			continue
		}
		module, role, _ := layer(p.ImportPath)
		if module != "" && role == "domain" {
			for _, d := range p.Deps {
				if !stdlib(d) && d != "github.com/google/uuid" {
					report(p.ImportPath, "depends on %s: the domain imports only the standard library and uuid", d)
				}
			}
		}
		for _, imp := range p.Imports {
			if stdlib(imp) {
				continue
			}
			impModule, impRole, ours := layer(imp)
			rel := strings.TrimPrefix(imp, modulePath+"/")
			allowed, applies := innerAllows(role, module, imp)
			switch {
			case module != "" && applies && !allowed:
				report(p.ImportPath, "imports %s: %s may import only the standard library, uuid and its module's domain and ports", rel, role)
			case !ours:
			case module == "" && impModule != "" && role == "platform":
				report(p.ImportPath, "imports %s: the platform never names a module", rel)
			case impModule != "" && module != "" && module != impModule:
				report(p.ImportPath, "imports %s: modules never import each other, not even ports; they share only platform/ (identity, events)", rel)
			case impModule != "" && module == "" && impRole != "wiring":
				report(p.ImportPath, "imports %s: outside modules/, only a module's root package (its fx.Module) is imported", rel)
			case impRole == "adapters" && !(module == impModule && (role == "wiring" || role == "adapters")):
				report(p.ImportPath, "imports %s: only the module's wiring (module.go) imports its adapters", rel)
			}
		}
		// Tests may compose the application with other modules (their root packages), as
		// cmd does, and nothing deeper of theirs.
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			impModule, impRole, ours := layer(imp)
			if ours && module != "" && impModule != "" && impModule != module && impRole != "wiring" {
				report(p.ImportPath+" (tests)", "import %s: a module's tests may compose other modules, never use their insides", strings.TrimPrefix(imp, modulePath+"/"))
			}
		}
	}
	return out
}
