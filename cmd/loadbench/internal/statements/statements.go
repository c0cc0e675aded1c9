// Package statements reads the service's own SQL for the benchmark, so that the database
// ceiling and the hand-written baseline run exactly what the service runs.
package statements

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var (
	// sqlc.slice(x) is a list of parameters sqlc writes at run time; one stands for it here.
	argPattern   = regexp.MustCompile(`sqlc\.(?:n?arg|slice)\((\w+)\)`)
	embedPattern = regexp.MustCompile(`sqlc\.embed\((\w+)\)`)
)

// Load reads queries/users/<engine>/queries.sql and queries/events/<engine>/queries.sql (the
// outbox; relative to the repository root, the working directory) and returns their statements
// by name, with parameters numbered as sqlc numbers them: in order of first appearance, $n on
// PostgreSQL and ?n on SQLite.
func Load(engine string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range []string{"users", "events"} {
		if err := load(filepath.Join("queries", part, engine, "queries.sql"), engine, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func load(path, engine string, out map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the service's statements (run from the repository root): %w", err)
	}
	for _, block := range strings.Split(string(b), "-- name: ")[1:] {
		header, body, _ := strings.Cut(block, "\n")
		name := strings.Fields(header)[0]
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		numbers := map[string]int{}
		// sqlc.embed(t) selects every column of t, as t.* does.
		stmt := embedPattern.ReplaceAllString(strings.Join(lines, "\n"), "$1.*")
		stmt = argPattern.ReplaceAllStringFunc(stmt, func(m string) string {
			arg := argPattern.FindStringSubmatch(m)[1]
			if _, ok := numbers[arg]; !ok {
				numbers[arg] = len(numbers) + 1
			}
			if engine == "sqlite" {
				return "?" + strconv.Itoa(numbers[arg])
			}
			return "$" + strconv.Itoa(numbers[arg])
		})
		out[name] = strings.TrimSuffix(strings.TrimSpace(stmt), ";")
	}
	return nil
}
