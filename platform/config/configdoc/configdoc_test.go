package configdoc

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/acme/userservice/platform/config"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fields  string // the body of struct T
		want    []setting
		wantErr string
	}{
		{
			name: "a comment of its own loses its subject",
			fields: "// Addr is the address the server listens on.\n" +
				"Addr string `env:\"ADDR\" envDefault:\":8080\"`\n" +
				"// Debug, when set, serves pprof.\n" +
				"Debug string `env:\"DEBUG_ADDR\"`",
			want: []setting{
				{Name: "ADDR", Default: "`:8080`", Description: "the address the server listens on."},
				{Name: "DEBUG_ADDR", Default: "(none)", Description: "when set, serves pprof."},
			},
		},
		{
			name: "a comment on consecutive lines is shared, and keeps its subject",
			fields: "// Read and Write cut slow clients,\n// after Idle.\n" +
				"Read time.Duration `env:\"READ_TIMEOUT\" envDefault:\"5s\"`\n" +
				"Write time.Duration `env:\"WRITE_TIMEOUT\" envDefault:\"1h30m\"`\n" +
				"// Idle bounds idle connections.\n" +
				"Idle time.Duration `env:\"IDLE_TIMEOUT\" envDefault:\"120s\"`",
			want: []setting{
				{Name: "READ_TIMEOUT", Default: "`5s`", Description: "`READ_TIMEOUT` and `WRITE_TIMEOUT` cut slow clients, after `IDLE_TIMEOUT`."},
				{Name: "WRITE_TIMEOUT", Default: "`1h30m`", Description: "`READ_TIMEOUT` and `WRITE_TIMEOUT` cut slow clients, after `IDLE_TIMEOUT`."},
				{Name: "IDLE_TIMEOUT", Default: "`120s`", Description: "bounds idle connections."},
			},
		},
		{
			name: "fields and variables named are variables; qualified names are not",
			fields: "// Max blocks for Lockout (see database.Lockout), shared with REDIS_URL.\n" +
				"Max int `env:\"MAX\" envDefault:\"5\"`\n" +
				"// Lockout is a window.\n" +
				"Lockout time.Duration `env:\"LOCKOUT\"`\n" +
				"// Redis keeps counts.\n" +
				"Redis string `env:\"REDIS_URL\"`",
			want: []setting{
				{Name: "MAX", Default: "`5`", Description: "blocks for `LOCKOUT` (see database.Lockout), shared with `REDIS_URL`."},
				{Name: "LOCKOUT", Default: "(none)", Description: "a window."},
				{Name: "REDIS_URL", Default: "(none)", Description: "keeps counts."},
			},
		},
		{
			name: "a list says its separator, the tag's or caarlos0/env's",
			fields: "// Origins are the origins allowed.\n" +
				"Origins []string `env:\"ORIGINS\" envSeparator:\";\"`\n" +
				"// Hosts are known.\n" +
				"Hosts []string `env:\"HOSTS\" envDefault:\"a,b\"`",
			want: []setting{
				{Name: "ORIGINS", Default: "(none)", Description: "the origins allowed. Values are separated by `;`."},
				{Name: "HOSTS", Default: "`a,b`", Description: "known. Values are separated by `,`."},
			},
		},
		{
			name:   "a required variable has no default; options are not its name",
			fields: "// Secret signs.\nSecret string `env:\"SECRET,required\"`",
			want:   []setting{{Name: "SECRET", Default: "(required)", Description: "signs."}},
		},
		{
			name:   "a line comment documents its field",
			fields: "Count int `env:\"COUNT\" envDefault:\"1\"` // Count is how many.",
			want:   []setting{{Name: "COUNT", Default: "`1`", Description: "how many."}},
		},
		{
			name:   "markup in a comment or a default is escaped",
			fields: "// Sep is \"*\", a|b, [x] or <y>_z.\nSep string `env:\"SEP\" envDefault:\"a|b\"`",
			want:   []setting{{Name: "SEP", Default: "`a\\|b`", Description: "\"\\*\", a\\|b, \\[x] or &lt;y>\\_z."}},
		},
		{
			name:    "a blank line ends a shared comment",
			fields:  "// A is a.\nA int `env:\"A\"`\n\nB int `env:\"B\"`",
			wantErr: "T.B has no doc comment",
		},
		{
			name:    "a field with no env tag is refused, not left off",
			fields:  "// A is a.\nA int `env:\"A\"`\n// Nested groups settings.\nNested struct{ B int `env:\"B\"` }",
			wantErr: "T.Nested has no env tag",
		},
		{
			name:    "an embedded field is refused",
			fields:  "// Other embeds.\nOther",
			wantErr: "T embeds a field",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "package p\n\ntype Other struct{}\n\ntype T struct {\n" + tc.fields + "\n}\n"
			got, err := parse([]byte(src), "T")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestParseRefusesAMissingType(t *testing.T) {
	t.Parallel()
	if _, err := parse([]byte("package p\n\ntype T int\n"), "T"); err == nil || !strings.Contains(err.Error(), "no struct type T") {
		t.Fatalf("error %v", err)
	}
}

// realPage returns the page generated from the real platform/config/config.go.
func realPage(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../config.go")
	if err != nil {
		t.Fatal(err)
	}
	page, err := Markdown(src)
	if err != nil {
		t.Fatal(err)
	}
	return string(page)
}

// TestPageIsUpToDate holds the committed page to the comments it is generated from.
func TestPageIsUpToDate(t *testing.T) {
	t.Parallel()
	committed, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatalf("%v: run make generate", err)
	}
	want := realPage(t)
	if string(committed) == want {
		return
	}
	got, wantLines := strings.Split(string(committed), "\n"), strings.Split(want, "\n")
	for i := range min(len(got), len(wantLines)) {
		if got[i] != wantLines[i] {
			t.Fatalf("docs/configuration.md differs from platform/config/config.go at line %d: run make generate\nhave: %s\nwant: %s", i+1, got[i], wantLines[i])
		}
	}
	t.Fatalf("docs/configuration.md has %d lines, platform/config/config.go makes %d: run make generate", len(got), len(wantLines))
}

// TestPageListsEveryVariable: every field of Config that caarlos0/env reads is a row of the
// page, in Config's order, and nothing else is; the first line is the mark make
// check-generated looks for.
func TestPageListsEveryVariable(t *testing.T) {
	t.Parallel()
	page := realPage(t)
	if !strings.HasPrefix(page, "<!-- Code generated by make generate. DO NOT EDIT. -->\n") {
		t.Errorf("the page does not start with the generated mark:\n%.80s", page)
	}
	var want []string
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		if env, _, _ := strings.Cut(typ.Field(i).Tag.Get("env"), ","); env != "" {
			want = append(want, env)
		}
	}
	var rows []string
	for line := range strings.Lines(page) {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			name, _, _ := strings.Cut(rest, "`")
			rows = append(rows, name)
		}
	}
	if len(want) < 20 || !slices.Equal(rows, want) {
		t.Errorf("the page's rows\n%q\nare not Config's variables\n%q", rows, want)
	}
}
