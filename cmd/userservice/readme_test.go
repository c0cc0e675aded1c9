package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDocumentedSessions pastes the README's session and the tutorial's, in order, into bash
// against the binary serving as `make run` does (a fresh SQLite database, unsent mail kept in
// ./mail), and holds every command's output to what the page shows under it. A page that
// drifts from the service (a renamed field, a reordered step that now answers 400) fails here.
func TestDocumentedSessions(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	for _, tc := range []struct {
		page  string
		under string // only the blocks under this heading; "" for every block of the page
	}{
		{"../../README.md", "## Try it"},
		{"../../docs/tutorial.md", ""},
	} {
		t.Run(filepath.Base(tc.page), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(tc.page)
			if err != nil {
				t.Fatal(err)
			}
			steps := parseSession(shellBlocks(string(src), tc.under))
			if len(steps) < 5 {
				t.Fatalf("found only %d commands in %s", len(steps), tc.page)
			}
			runSession(t, bin, steps)
		})
	}
}

// step is a command of a documented session and the lines the page shows as its output.
type step struct {
	command string
	want    []string
}

// shellBlocks returns the ```sh blocks of a Markdown page, those under the heading under (up
// to the next heading of its level) when it is not "".
func shellBlocks(page, under string) []string {
	var blocks, block []string
	in, inSection := false, under == ""
	for _, line := range strings.Split(page, "\n") {
		switch {
		case !in && under != "" && strings.HasPrefix(line, "#"):
			// A heading of the section's level or above ends it; a deeper one is inside it.
			if headingLevel(line) <= headingLevel(under) {
				inSection = line == under
			}
		case !in && line == "```sh":
			in, block = true, nil
		case in && line == "```":
			in = false
			if inSection {
				blocks = append(blocks, strings.Join(block, "\n"))
			}
		case in:
			block = append(block, line)
		}
	}
	return blocks
}

func headingLevel(h string) int { return len(h) - len(strings.TrimLeft(h, "#")) }

// parseSession reads commands (joining lines continued with a backslash) and, right under
// each, the comment lines that show its output; a comment after a blank line is prose.
func parseSession(blocks []string) []step {
	var steps []step
	for _, b := range blocks {
		afterCommand := false
		var cmd []string
		for _, line := range strings.Split(b, "\n") {
			switch {
			case len(cmd) > 0:
				cmd = append(cmd, line)
				if !strings.HasSuffix(line, `\`) {
					steps = append(steps, step{command: strings.Join(cmd, "\n")})
					cmd, afterCommand = nil, true
				}
			case strings.TrimSpace(line) == "":
				afterCommand = false
			case strings.HasPrefix(line, "#"):
				if afterCommand {
					s := &steps[len(steps)-1]
					s.want = append(s.want, strings.TrimSpace(strings.TrimPrefix(line, "#")))
				}
			default:
				cmd = []string{line}
				if !strings.HasSuffix(line, `\`) {
					steps = append(steps, step{command: line})
					cmd, afterCommand = nil, true
				}
			}
		}
	}
	return steps
}

// outputPattern turns a line the page shows into a pattern of the line printed: <a name>
// stands for a value and … for anything.
var placeholder = regexp.MustCompile(`<[a-z_ ]+>`)

func outputPattern(shown string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i, part := range strings.Split(shown, "…") {
		if i > 0 {
			b.WriteString(".*")
		}
		quoted := regexp.QuoteMeta(part)
		b.WriteString(placeholder.ReplaceAllStringFunc(quoted, func(string) string { return `[^"]+` }))
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

const marker = "@@step "

func runSession(t *testing.T, bin string, steps []step) {
	dir := t.TempDir()
	addr := freeAddr(t)
	// As make run serves: the embedded SQLite default and the mail kept under ./mail.
	startServe(t, bin, map[string]string{
		"HTTP_ADDR": addr, "DATABASE_URL": "sqlite://" + filepath.Join(dir, "userservice.db"), "MAIL_DIR": filepath.Join(dir, "mail"),
	})
	var script strings.Builder
	for i, s := range steps {
		cmd := strings.ReplaceAll(s.command, "localhost:8080", addr)
		cmd = strings.ReplaceAll(cmd, "go run ./cmd/userservice", bin)
		// A newline first: curl prints a body without one. $? is the previous step's status.
		fmt.Fprintf(&script, "printf '\\n%s%d %%d\\n' $?\n%s\n", marker, i, cmd)
	}
	fmt.Fprintf(&script, "printf '\\n%s%d %%d\\n' $?\n", marker, len(steps))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", script.String())
	// A curl still running when bash is killed would hold the output open: give up on it.
	sh.WaitDelay = 5 * time.Second
	sh.Dir = dir
	sh.Env = append(os.Environ(), "DATABASE_URL=sqlite://"+filepath.Join(dir, "userservice.db"), "LOG_LEVEL=warn")
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the session failed: %v\n%s", err, out)
	}
	printed := make([][]string, len(steps))
	status := make([]int, len(steps))
	for i := range status {
		status[i] = -1 // never reached
	}
	cur := -1
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if n, ok := strings.CutPrefix(line, marker); ok {
			var prev int
			_, _ = fmt.Sscan(n, &cur, &prev)
			if cur > 0 {
				status[cur-1] = prev
			}
			continue
		}
		if cur >= 0 && strings.TrimSpace(line) != "" {
			printed[cur] = append(printed[cur], line)
		}
	}
	for i, s := range steps {
		if status[i] != 0 {
			t.Errorf("%s\nexited %d (printed %q)", s.command, status[i], printed[i])
			continue
		}
		checkStep(t, s, printed[i])
	}
}

// checkStep holds what a command printed to what the page shows: each shown line matches a
// printed line, in order. A shown line in parentheses describes a command that prints
// nothing, such as a 204.
func checkStep(t *testing.T, s step, printed []string) {
	t.Helper()
	if len(s.want) > 0 && strings.HasPrefix(s.want[0], "(") {
		if len(printed) != 0 {
			t.Errorf("%s\nprinted %q; the page shows %q, nothing printed", s.command, printed, s.want[0])
		}
		return
	}
	next := 0
	for _, w := range s.want {
		p := outputPattern(w)
		for next < len(printed) && !p.MatchString(printed[next]) {
			next++
		}
		if next == len(printed) {
			t.Errorf("%s\nprinted:\n  %s\nthe page shows %q", s.command, strings.Join(printed, "\n  "), w)
			return
		}
		next++
	}
}

func TestSessionParsing(t *testing.T) {
	t.Parallel()
	page := "# T\n\n## Try it\n\n### Part\n\n```sh\n# prose\ncurl a \\\n  b\n# {\"id\":\"<user_id>\",…}\n\n# more prose\necho hi\n# hi\n```\n\n## Next\n\n```sh\necho not this\n```\n"
	steps := parseSession(shellBlocks(page, "## Try it"))
	if len(steps) != 2 || steps[0].command != "curl a \\\n  b" || len(steps[0].want) != 1 || steps[1].command != "echo hi" || steps[1].want[0] != "hi" {
		t.Fatalf("steps %+v", steps)
	}
	for _, tc := range []struct {
		shown, printed string
		match          bool
	}{
		{`{"id":"<user_id>",…}`, `{"id":"0193","x":1}`, true},
		{`{"id":"<user_id>",…}`, `{"user":"0193"}`, false},
		{`# 401`, `# 4010`, false},
		{`HTTP/1.1 201 Created`, `HTTP/1.1 201 Created`, true},
	} {
		if got := outputPattern(tc.shown).MatchString(tc.printed); got != tc.match {
			t.Errorf("%q against %q: %v", tc.shown, tc.printed, got)
		}
	}
}
