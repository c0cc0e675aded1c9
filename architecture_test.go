package userservice_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
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
		{ImportPath: m + "a/internal/domain", Imports: []string{"fmt", "github.com/jackc/pgx/v5"}, Deps: []string{"fmt", "github.com/jackc/pgx/v5"}},
		{ImportPath: m + "a/internal/service", Imports: []string{m + "b/internal/service", "go.uber.org/zap", m + "b/events"}},
		{ImportPath: m + "a/internal/httpapi", Imports: []string{m + "b/internal/ports", m + "b"}},
		{ImportPath: m + "a", Imports: []string{m + "b", m + "b/events"}, XTestImports: []string{m + "b", m + "b/internal/domain", m + "b/events"}},
		{ImportPath: m + "a/internal/httpapi", Imports: []string{m + "a/internal/adapters/postgres"}},
		{ImportPath: m + "a/events", Imports: []string{m + "a/internal/domain"}, Deps: []string{m + "a/internal/domain", "github.com/google/uuid"}},
		{ImportPath: m + "a/helpers", Imports: []string{"fmt"}},
		{ImportPath: modulePath + "/platform/httpserver", Imports: []string{m + "a/internal/domain", m + "a/events"}},
		{ImportPath: modulePath + "/cmd/x", Imports: []string{m + "a/internal/adapters/sqlite", m + "a/events"}},
	}
	got := violations(bad)
	// A module's tests may compose the application with another module's root package (the
	// users module, to log in), and any package may read another module's events.
	for _, allowed := range []string{"modules/a (tests) import modules/b:", "modules/a (tests) import modules/b/events", "modules/a imports modules/b/events",
		"modules/a/internal/service imports modules/b/events", "cmd/x imports modules/a/events"} {
		if slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, allowed) }) {
			t.Errorf("an allowed import was reported (%q): %q", allowed, got)
		}
	}
	want := []string{
		"modules/a/internal/domain depends on github.com/jackc/pgx/v5",
		"modules/a/internal/service imports modules/b/internal/service",
		"modules/a/internal/httpapi imports modules/b/internal/ports",
		"modules/a/internal/httpapi imports modules/b:",
		"modules/a imports modules/b:",
		"modules/a (tests) import modules/b/internal/domain",
		"modules/a/internal/service imports go.uber.org/zap",
		"modules/a/internal/httpapi imports modules/a/internal/adapters/postgres",
		"modules/a/events imports modules/a/internal/domain",
		"modules/a/events depends on github.com/acme/userservice/modules/a/internal/domain",
		"modules/a/helpers is outside the module's shape",
		"platform/httpserver imports modules/a/internal/domain",
		"platform/httpserver imports modules/a/events",
		"cmd/x imports modules/a/internal/adapters/sqlite",
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

// layer describes a package of ours: its module ("" outside modules/) and its role there: the
// module's root package is its "wiring", modules/<m>/events its published "events", and a
// package under modules/<m>/internal/ is named by its first folder there: domain, ports,
// service, the adapters it is driven through (adapters), and what drives it (httpapi, the
// subscriber of other modules' events, the worker of its background loops).
func layer(path string) (module, role string, ours bool) {
	rel, ok := strings.CutPrefix(path, modulePath+"/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rel, "/")
	switch {
	case parts[0] != "modules" || len(parts) < 2:
		return "", parts[0], true
	case len(parts) == 2:
		return parts[1], "wiring", true
	case parts[2] == "internal" && len(parts) > 3:
		return parts[1], parts[3], true
	}
	return parts[1], parts[2], true
}

func stdlib(path string) bool { return !strings.Contains(strings.Split(path, "/")[0], ".") }

// published reports whether imp is a module's events package, which any package may import.
func published(imp string) bool {
	m, role, ours := layer(imp)
	return ours && m != "" && role == "events"
}

// innerAllows reports whether a package in an inner layer (role) of module may import imp,
// besides the standard library; applies is false for the outer layers.
func innerAllows(role, module, imp string) (allowed, applies bool) {
	switch role {
	case "events":
		// The published language needs nothing but the UUID package.
		return imp == "github.com/google/uuid", true
	case "domain":
		// The UUID package and the modules' published events (also checked on every
		// transitive dependency).
		return imp == "github.com/google/uuid" || published(imp), true
	case "ports", "service":
		// The UUID package, published events and their own module's inner layers.
		return ownInner(module, imp) || published(imp), true
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
		if module != "" && (role == "domain" || role == "events") {
			for _, d := range p.Deps {
				if !stdlib(d) && d != "github.com/google/uuid" && !(role == "domain" && published(d)) {
					report(p.ImportPath, "depends on %s: %s imports only the standard library, uuid and published events", d, role)
				}
			}
		}
		if module != "" && !slices.Contains([]string{"wiring", "events", "domain", "ports", "service", "adapters", "httpapi", "subscriber", "worker"}, role) {
			report(p.ImportPath, "is outside the module's shape: its root, events/ and internal/{domain,ports,service,adapters,httpapi,subscriber,worker}")
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
				report(p.ImportPath, "imports %s: %s may import only the standard library, uuid, published events and its module's domain and ports", rel, role)
			case !ours:
			case module == "" && impModule != "" && role == "platform":
				report(p.ImportPath, "imports %s: the platform never names a module", rel)
			case impModule != "" && module != "" && module != impModule && impRole != "events":
				report(p.ImportPath, "imports %s: a module imports of another only its events package; they share the rest through platform/", rel)
			case impModule != "" && module == "" && impRole != "wiring" && impRole != "events":
				report(p.ImportPath, "imports %s: outside modules/, only a module's root package (its fx.Module) and its events are imported", rel)
			case impRole == "adapters" && !(module == impModule && (role == "wiring" || role == "adapters")):
				report(p.ImportPath, "imports %s: only the module's wiring (module.go) imports its adapters", rel)
			}
		}
		// Tests may compose the application with other modules (their root packages), as
		// cmd does, and read their events, and nothing deeper of theirs.
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			impModule, impRole, ours := layer(imp)
			if ours && module != "" && impModule != "" && impModule != module && impRole != "wiring" && impRole != "events" {
				report(p.ImportPath+" (tests)", "import %s: a module's tests may compose other modules, never use their insides", strings.TrimPrefix(imp, modulePath+"/"))
			}
		}
	}
	return out
}

// TestEventTypesAreNamedByTheirModule: a module's event types are written as literals only
// in its own folder; everyone else names them through the module's events package, so a
// renamed or re-versioned type is a compile error, not a subscription that silently matches
// nothing.
func TestEventTypesAreNamedByTheirModule(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	sources := map[string][]byte{}
	for _, f := range strings.Fields(string(out)) {
		src, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		} else if err != nil {
			t.Fatal(err)
		}
		if !generated.Match(src) {
			sources[f] = src
		}
	}
	owners := eventTypeOwners(t, sources)
	if len(owners) < 10 {
		t.Fatalf("found only %d event types in modules/*/events", len(owners))
	}
	for _, v := range foreignEventLiterals(t, sources, owners) {
		t.Error(v)
	}
}

// TestForeignEventLiteralsAreFound feeds the check a literal of another module's type, so the
// test above cannot pass by checking nothing.
func TestForeignEventLiteralsAreFound(t *testing.T) {
	t.Parallel()
	sources := map[string][]byte{
		"modules/a/events/events.go": []byte("package events\nconst (\n\tTypeMade = \"x.a.made.v1\"\n\tRoleAdmin = \"admin\"\n)\n"),
		"modules/a/internal/s.go":    []byte("package s\nvar own = \"x.a.made.v1\"\n"),
		"modules/b/module.go":        []byte("package b\nvar types = []string{\"x.a.made.v1\", \"x.b.other.v1\", \"admin\"}\n"),
	}
	owners := eventTypeOwners(t, sources)
	got := foreignEventLiterals(t, sources, owners)
	if len(got) != 1 || !strings.HasPrefix(got[0], "modules/b/module.go:2: \"x.a.made.v1\"") {
		t.Errorf("got %q, want one report for modules/b/module.go:2", got)
	}
}

// generated matches Go's mark of a generated file.
var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// eventTypeOwners maps each event type declared in a module's events package (a Type*
// constant) to that module's folder (modules/<m>/).
func eventTypeOwners(t *testing.T, sources map[string][]byte) map[string]string {
	t.Helper()
	owners := map[string]string{}
	for name, src := range sources {
		parts := strings.Split(name, "/")
		if len(parts) != 4 || parts[0] != "modules" || parts[2] != "events" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, v := range vs.Values {
					if s, ok := stringLit(v); ok && i < len(vs.Names) && strings.HasPrefix(vs.Names[i].Name, "Type") {
						owners[s] = "modules/" + parts[1] + "/"
					}
				}
			}
			return true
		})
	}
	return owners
}

// foreignEventLiterals lists the string literals, outside their module's folder, that are
// another module's event type.
func foreignEventLiterals(t *testing.T, sources map[string][]byte, owners map[string]string) []string {
	t.Helper()
	var out []string
	for name, src := range sources {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := stringLit(n); ok {
				if owner, ok := owners[s]; ok && !strings.HasPrefix(name, owner) {
					out = append(out, fmt.Sprintf("%s:%d: %q is %sevents' type: name it by its constant", name, fset.Position(n.Pos()).Line, s, owner))
				}
			}
			return true
		})
	}
	slices.Sort(out)
	return out
}

func stringLit(n ast.Node) (string, bool) {
	lit, ok := n.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
