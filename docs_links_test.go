package userservice_test

import (
	"cmp"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// The documentation is a set of linked pages, read on GitHub: these tests keep every relative
// link and anchor pointing at something that exists, every page reachable from the README (a
// page nobody can find is a page nobody reads), and the README short enough to be a front door.

// readmeMaxLines is the README's budget; the explanations live in docs/.
const readmeMaxLines = 200

var (
	// inlineLink is [text](target) or ![alt](target), with an optional "title".
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// referenceDef is a reference-style link's definition: [label]: target.
	referenceDef = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	// heading is an ATX heading; its optional closing #s are not part of the text.
	heading = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$`)
	// fence opens or closes a fenced code block, whose contents are not Markdown.
	fence = regexp.MustCompile("^ {0,3}(```|~~~)")
	// codeSpan is inline code, whose contents are not links.
	codeSpan = regexp.MustCompile("`[^`]*`")
	// linkText keeps a link's text in a heading, as GitHub's anchor does.
	linkText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// mdLink is one link of a page: its line (from 1) and its target as written.
type mdLink struct {
	line   int
	target string
}

// page is what the checks need of a Markdown file: its links and its headings' anchors.
type page struct {
	links   []mdLink
	anchors map[string]bool
}

func parsePage(text string) page {
	p := page{anchors: map[string]bool{}}
	seen := map[string]int{}
	openFence := ""
	// prose is the text with code blanked out, line for line: links are looked for in it as a
	// whole, since a link's text may break across lines.
	lines := strings.Split(text, "\n")
	prose := make([]string, len(lines))
	for i, line := range lines {
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case openFence == "":
				openFence = m[1]
			case m[1] == openFence:
				openFence = ""
			}
			continue
		}
		if openFence != "" {
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			// GitHub numbers repeated headings: notes, notes-1, notes-2.
			s := slug(m[1])
			if n := seen[s]; n > 0 {
				p.anchors[fmt.Sprintf("%s-%d", s, n)] = true
			} else {
				p.anchors[s] = true
			}
			seen[s]++
		}
		prose[i] = codeSpan.ReplaceAllString(line, "")
		if m := referenceDef.FindStringSubmatch(prose[i]); m != nil {
			p.links = append(p.links, mdLink{line: i + 1, target: m[1]})
		}
	}
	joined := strings.Join(prose, "\n")
	for _, m := range inlineLink.FindAllStringSubmatchIndex(joined, -1) {
		line := 1 + strings.Count(joined[:m[0]], "\n")
		p.links = append(p.links, mdLink{line: line, target: joined[m[2]:m[3]]})
	}
	slices.SortStableFunc(p.links, func(a, b mdLink) int { return a.line - b.line })
	return p
}

// slug is GitHub's anchor of a heading: the rendered text in lower case, without punctuation
// other than hyphens and underscores, spaces turned into hyphens.
func slug(text string) string {
	text = linkText.ReplaceAllString(text, "$1")
	text = strings.NewReplacer("`", "", "*", "").Replace(text)
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// resolve returns the file a link of the page from points at (a path in the repository, ""
// for the page itself) and its anchor; external is true for web and mail links, which are not
// checked, and problem says why a link cannot be followed.
func resolve(from, raw string) (target, anchor string, external bool, problem string) {
	if raw == "" {
		return "", "", false, "empty target"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", "", false, err.Error()
	case u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "mailto":
		return "", "", true, ""
	case u.Scheme != "" || u.Host != "":
		return "", "", false, "not a relative path nor an http(s) or mailto link"
	case u.Path == "":
		return "", u.Fragment, false, ""
	}
	if strings.HasPrefix(u.Path, "/") {
		target = path.Clean(strings.TrimPrefix(u.Path, "/")) // GitHub: the repository's root
	} else {
		target = path.Join(path.Dir(from), u.Path)
	}
	if !fs.ValidPath(target) {
		return "", "", false, "points outside the repository"
	}
	return target, u.Fragment, false, ""
}

// brokenLinks returns one line per relative link of the Markdown file name whose target file,
// or heading, does not exist in fsys.
func brokenLinks(fsys fs.FS, name string) ([]string, error) {
	text, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	p := parsePage(string(text))
	var out []string
	for _, l := range p.links {
		report := func(format string, args ...any) {
			out = append(out, fmt.Sprintf("%s:%d: link %q: %s", name, l.line, l.target, fmt.Sprintf(format, args...)))
		}
		target, anchor, external, problem := resolve(name, l.target)
		switch {
		case external:
			continue
		case problem != "":
			report("%s", problem)
			continue
		}
		anchors := p.anchors
		if target != "" {
			if _, err := fs.Stat(fsys, target); err != nil {
				report("%s does not exist", target)
				continue
			}
			if anchor == "" || path.Ext(target) != ".md" {
				continue // only Markdown headings are anchors we can know
			}
			other, err := fs.ReadFile(fsys, target)
			if err != nil {
				return nil, err
			}
			anchors = parsePage(string(other)).anchors
		}
		if anchor != "" && !anchors[anchor] {
			report("no heading of %s has the anchor #%s", cmp.Or(target, name), anchor)
		}
	}
	return out, nil
}

// reachable returns the Markdown files reached from start by following relative links; a link
// to a directory reaches its README.md, as GitHub shows it.
func reachable(fsys fs.FS, start string) (map[string]bool, error) {
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, l := range parsePage(string(text)).links {
			target, _, external, problem := resolve(name, l.target)
			if external || problem != "" || target == "" {
				continue
			}
			if info, err := fs.Stat(fsys, target); err == nil && info.IsDir() {
				target = path.Join(target, "README.md")
			}
			if path.Ext(target) != ".md" || seen[target] {
				continue
			}
			if _, err := fs.Stat(fsys, target); err != nil {
				continue // brokenLinks reports it
			}
			seen[target] = true
			queue = append(queue, target)
		}
	}
	return seen, nil
}

// docFiles are the pages the checks hold: the two top-level documents and everything in docs/.
func docFiles(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	files := []string{"README.md", "CONTRIBUTING.md"}
	err := fs.WalkDir(fsys, "docs", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(name) == ".md" {
			files = append(files, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDocLinks(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS(".")
	files := docFiles(t, fsys)
	if len(files) < 10 {
		t.Fatalf("found only %d documentation files: %q", len(files), files)
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			broken, err := brokenLinks(fsys, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range broken {
				t.Error(b)
			}
		})
	}
}

func TestDocsReachableFromReadme(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS(".")
	reached, err := reachable(fsys, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range docFiles(t, fsys) {
		if !reached[name] {
			t.Errorf("%s cannot be reached from README.md by following links", name)
		}
	}
}

func TestReadmeLength(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(text), "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move the details to a page of docs/", n, readmeMaxLines)
	}
}

// TestLinkCheckerFindsBrokenLinks feeds the checks pages with known faults, so the tests above
// cannot pass by checking nothing.
func TestLinkCheckerFindsBrokenLinks(t *testing.T) {
	t.Parallel()
	other := &fstest.MapFile{Data: []byte("# Other\n\n## The `porttest` suite, in short!\n\n## Notes\n\n## Notes\n")}
	tests := []struct {
		name string
		page string
		want []string
	}{
		{
			name: "a missing file",
			page: "# A\n\nsee [b](nope.md)\n",
			want: []string{`a.md:3: link "nope.md": nope.md does not exist`},
		},
		{
			name: "a missing file in a subdirectory, with an anchor",
			page: "[b](docs/nope.md#x)",
			want: []string{`a.md:1: link "docs/nope.md#x": docs/nope.md does not exist`},
		},
		{
			name: "a missing heading in another page",
			page: "[b](docs/other.md#nowhere)",
			want: []string{`a.md:1: link "docs/other.md#nowhere": no heading of docs/other.md has the anchor #nowhere`},
		},
		{
			name: "a missing heading in the page itself",
			page: "# A\n\n[here](#elsewhere)\n",
			want: []string{`a.md:3: link "#elsewhere": no heading of a.md has the anchor #elsewhere`},
		},
		{
			name: "outside the repository and an unknown scheme",
			page: "[up](../../etc/passwd) [typo](htp://example.com)",
			want: []string{
				`a.md:1: link "../../etc/passwd": points outside the repository`,
				`a.md:1: link "htp://example.com": not a relative path nor an http(s) or mailto link`,
			},
		},
		{
			name: "a link whose text breaks across lines",
			page: "see [the\nother page](gone.md) and [a](b.md)",
			want: []string{`a.md:1: link "gone.md": gone.md does not exist`, `a.md:2: link "b.md": b.md does not exist`},
		},
		{
			name: "a reference definition",
			page: "[b][ref]\n\n[ref]: gone.md\n",
			want: []string{`a.md:3: link "gone.md": gone.md does not exist`},
		},
		{
			name: "GitHub's anchors: code, punctuation and repeated headings",
			page: "[a](docs/other.md#the-porttest-suite-in-short) [b](docs/other.md#notes-1) [c](/docs/other.md#other)",
		},
		{
			name: "good links, external links and links in code are not reported",
			page: "# A title\n\n[self](#a-title) [dir](docs/) [file](docs/other.md) [web](https://example.com/nope.md) " +
				"[mail](mailto:a@example.com) ![img](docs/other.md)\n\n`[code](nope.md)`\n\n```sh\n[fenced](nope.md)\n```\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{"a.md": {Data: []byte(tt.page)}, "docs/other.md": other}
			got, err := brokenLinks(fsys, "a.md")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("brokenLinks:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestDocsReachabilityFindsOrphans: a page no link leads to is found, and a directory link reaches
// the directory's README.md.
func TestDocsReachabilityFindsOrphans(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"README.md":                  {Data: []byte("[a](docs/a.md) [decisions](docs/decisions/)")},
		"docs/a.md":                  {Data: []byte("[b](b.md#x) [back](../README.md)")},
		"docs/b.md":                  {Data: []byte("no links")},
		"docs/orphan.md":             {Data: []byte("[a](a.md)")},
		"docs/decisions/README.md":   {Data: []byte("[one](0001-one.md)")},
		"docs/decisions/0001-one.md": {Data: []byte("# One")},
	}
	got, err := reachable(fsys, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range got {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"README.md", "docs/a.md", "docs/b.md", "docs/decisions/0001-one.md", "docs/decisions/README.md"}
	if !slices.Equal(names, want) {
		t.Errorf("reachable: got %q, want %q", names, want)
	}
}
