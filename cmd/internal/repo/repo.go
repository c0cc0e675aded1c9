// Package repo answers questions about the repository the project's own tools run in.
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath returns the module path declared by go.mod at root.
func ModulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", errors.New("go.mod declares no module")
}
