// Command bundle writes the files that `make generate` derives from hand-written ones: the
// bundles of the modules' own parts, so that adding a module never means editing a shared
// file, and the configuration's page, so that it says what Config says:
//
//	openapi.yaml                        platform/api/api.yaml + every modules/<m>/api.yaml
//	sqlc.yaml                           every queries/<m>/sqlc.yaml
//	platform/httpserver/groups_gen.go   the operation groups of openapi.yaml, composed
//	platform/httpserver/fields_gen.go   the request bodies' fields, for validation messages
//	cmd/userservice/modules/modules_gen.go  the catalogue of modules features() chooses from
//	docs/configuration.md               the settings, from platform/config.Config's doc comments
//
// It runs from the repository root (make generate runs it before ogen and sqlc) and refuses
// parts that collide: two parts declaring the same path, component, tag or operation group.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/acme/userservice/platform/config/configdoc"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

// run writes the bundles of the repository at root.
func run(root string) error {
	api, groups, err := bundleAPI(root)
	if err != nil {
		return err
	}
	sqlc, err := bundleSQLC(root)
	if err != nil {
		return err
	}
	composition, err := composeGroups(groups)
	if err != nil {
		return err
	}
	modules, err := catalogue(root)
	if err != nil {
		return err
	}
	fields, err := describeFields(api)
	if err != nil {
		return err
	}
	configSrc, err := os.ReadFile(root + "/platform/config/config.go")
	if err != nil {
		return err
	}
	configPage, err := configdoc.Markdown(configSrc)
	if err != nil {
		return err
	}
	for path, data := range map[string][]byte{
		"openapi.yaml":                           api,
		"sqlc.yaml":                              sqlc,
		"platform/httpserver/groups_gen.go":      composition,
		"platform/httpserver/fields_gen.go":      fields,
		"cmd/userservice/modules/modules_gen.go": modules,
		"docs/configuration.md":                  configPage,
	} {
		if err := writeIfChanged(root+"/"+path, data); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged writes data to path unless it already holds exactly that, so that an
// unchanged bundle keeps its modification time (and make's and go's caches stay warm).
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
