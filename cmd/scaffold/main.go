// Command scaffold writes a new, working module (`make module NAME=<m>` runs it): a small CRUD
// resource owned by the caller, at every layer (domain with one rule, ports, service, the
// PostgreSQL, SQLite and MongoDB adapters with migrations, queries and indexes, httpapi,
// module.go, its part of the contract and its sqlc configuration), with tests at every layer,
// and adds the module's line to features() in cmd/userservice/main.go. Then `make generate &&
// make test` pass.
//
// The files come from skeleton/, a module named "skeleton": every "skeleton" and "Skeleton" in
// their paths and contents becomes the new name, and the module path becomes go.mod's. The
// skeleton is kept honest by a test that scaffolds it into a copy of the repository, generates,
// builds and tests it (TestScaffoldedModuleWorks, a slow test).
package main

import (
	"embed"
	"flag"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/acme/userservice/cmd/internal/repo"
)

//go:embed all:skeleton
var skeleton embed.FS

// skeletonModulePath is the module path the skeleton's imports are written with.
const skeletonModulePath = "github.com/acme/userservice"

// mainFile is where the application lists its modules, in features().
const mainFile = "cmd/userservice/main.go"

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: scaffold [-root DIR] NAME\n\nwrites modules/NAME and queries/NAME and adds NAME.Module to features(); then run make generate")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := scaffold(*root, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "scaffold:", err)
		os.Exit(1)
	}
	fmt.Printf("module %s written to modules/%[1]s and queries/%[1]s, and added to features() in %s.\nNext: make generate && make test\n", flag.Arg(0), mainFile)
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9]{1,29}$`)

// scaffold writes the module name into the repository at root.
func scaffold(root, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("invalid module name %q: use 2 to 30 lowercase letters and digits, starting with a letter (it is a Go package name, a URL path and a table prefix)", name)
	}
	if token.IsKeyword(name) {
		return fmt.Errorf("invalid module name %q: it is a Go keyword", name)
	}
	for _, dir := range []string{"modules/" + name, "queries/" + name} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			return fmt.Errorf("module %s already exists (%s)", name, dir)
		}
	}
	modulePath, err := repo.ModulePath(root)
	if err != nil {
		return err
	}
	mainSrc, err := os.ReadFile(filepath.Join(root, mainFile))
	if err != nil {
		return err
	}
	reserved, err := reservedNames()
	if err != nil {
		return err
	}
	if reserved[name] {
		return fmt.Errorf("invalid module name %q: the module's own code imports a package of that name", name)
	}
	if err := pathTaken(root, name); err != nil {
		return err
	}
	title := strings.ToUpper(name[:1]) + name[1:]
	newMain, err := addFeature(mainSrc, title)
	if err != nil {
		return err
	}
	replacer := strings.NewReplacer(skeletonModulePath, modulePath, "skeleton", name, "Skeleton", title)
	err = fs.WalkDir(skeleton, "skeleton", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := skeleton.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, "skeleton/"), ".tmpl")
		dest := filepath.Join(root, filepath.FromSlash(replacer.Replace(rel)))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dest, []byte(replacer.Replace(string(data))), 0o644)
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, mainFile), newMain, 0o644)
}

// reservedNames returns the names of the packages the skeleton's files and the generated
// catalogue import: a module of the same name could not be imported beside them.
func reservedNames() (map[string]bool, error) {
	names := map[string]bool{"fx": true, "modules": true}
	err := fs.WalkDir(skeleton, "skeleton", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".go.tmpl") {
			return err
		}
		src, err := skeleton.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			name := path.Base(ip)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			names[name] = true
		}
		return nil
	})
	return names, err
}

// pathTaken refuses a name whose routes (/<name>, /<name>/…) or operation group the contract
// already has.
func pathTaken(root, name string) error {
	data, err := os.ReadFile(filepath.Join(root, "openapi.yaml"))
	if err != nil {
		return err
	}
	title := strings.ToUpper(name[:1]) + name[1:]
	for line := range strings.Lines(string(data)) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "/"+name+":" || strings.HasPrefix(trimmed, "/"+name+"/") {
			return fmt.Errorf("invalid module name %q: openapi.yaml already has the path %s", name, strings.TrimSuffix(trimmed, ":"))
		}
		if trimmed == "x-ogen-operation-group: "+title {
			return fmt.Errorf("invalid module name %q: openapi.yaml already has the operation group %s", name, title)
		}
	}
	return nil
}

// addFeature returns src with the module's line last in features(). The line names the
// module's function in the generated catalogue (cmd/userservice/modules/modules_gen.go, which make generate
// writes), so main.go needs no import of its own and removing the line removes the module.
func addFeature(src []byte, title string) ([]byte, error) {
	s := string(src)
	fn := strings.Index(s, "func features() fx.Option {")
	if fn < 0 {
		return nil, fmt.Errorf("%s has no func features() fx.Option", mainFile)
	}
	// The list ends at the first line that closes fx.Options( after the function starts.
	end := strings.Index(s[fn:], "\n\t)\n")
	if end < 0 {
		return nil, fmt.Errorf("%s: features() does not end its fx.Options( list with a line \"\t)\"", mainFile)
	}
	at := fn + end + 1
	return format.Source([]byte(s[:at] + "\t\tmodules." + title + "(),\n" + s[at:]))
}
