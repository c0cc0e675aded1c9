// Command testreport reads `go test -json` on standard input and prints what a person needs of
// it: one line per package, the whole output of every failed test (and of a package that did
// not build or panicked), one line per skipped test with its reason, and a closing
// "N passed, N failed, N skipped". The output of passing tests (their logs, their warnings) is
// not printed: it stays in the full log, which -log writes. `make test` pipes into it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run())
}

// run reads the run from standard input and returns the exit code: 1 when a test or package
// failed, 2 when the report itself could not be made.
func run() int {
	logPath := flag.String("log", "", "write the full plain-text output of the run to this file")
	flag.Parse()
	log := io.Discard
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			return 2
		}
		defer func() { _ = f.Close() }()
		log = f
	}
	r := newReport(os.Stdout, log)
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		return 2
	}
	if !r.close() {
		return 1
	}
	return 0
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // of build-output and build-fail events
	Test       string
	Elapsed    float64
	Output     string
}

// report gathers the run as it streams by.
type report struct {
	out, log                io.Writer
	output                  map[string][]string // by package and test, until the test ends
	passed, failed, skipped int
	broken                  bool // a package or build failed outside any test
}

func newReport(out, log io.Writer) *report {
	return &report{out: out, log: log, output: map[string][]string{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Not JSON: something go test printed itself (such as a vet failure); keep it.
			fmt.Fprintln(r.out, string(line))
			fmt.Fprintln(r.log, string(line))
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	key := e.Package + " " + e.Test
	switch e.Action {
	case "build-output":
		fmt.Fprint(r.out, e.Output)
		fmt.Fprint(r.log, e.Output)
	case "build-fail":
		r.broken = true
	case "output":
		fmt.Fprint(r.log, e.Output)
		r.output[key] = append(r.output[key], e.Output)
	case "pass", "fail", "skip":
		lines := r.output[key]
		delete(r.output, key)
		if e.Test == "" {
			r.packageDone(e, lines)
			return
		}
		r.testDone(e, lines)
	}
}

func (r *report) packageDone(e event, lines []string) {
	switch e.Action {
	case "pass":
		fmt.Fprintf(r.out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
	case "skip": // no test files
	case "fail":
		r.broken = true
		// Tests that never ended: a timeout or a panic in a goroutine ends the package, and
		// go test -json files the panic and the stack under the test that was running.
		prefix := e.Package + " "
		for key, out := range r.output {
			if test, ok := strings.CutPrefix(key, prefix); ok && test != "" {
				r.failed++
				fmt.Fprintf(r.out, "--- FAIL: %s %s (did not finish)\n", e.Package, test)
				for _, l := range out {
					if !framing(l) {
						fmt.Fprint(r.out, l)
					}
				}
				delete(r.output, key)
			}
		}
		// The package's own output: a panic, a timeout, TestMain's failure, the FAIL line.
		for _, l := range lines {
			fmt.Fprint(r.out, l)
		}
	}
}

func (r *report) testDone(e event, lines []string) {
	switch e.Action {
	case "pass":
		r.passed++
	case "fail":
		r.failed++
		fmt.Fprintf(r.out, "--- FAIL: %s %s (%.2fs)\n", e.Package, e.Test, e.Elapsed)
		for _, l := range lines {
			if !framing(l) {
				fmt.Fprint(r.out, l)
			}
		}
	case "skip":
		r.skipped++
		fmt.Fprintf(r.out, "--- SKIP: %s %s: %s\n", e.Package, e.Test, reason(lines))
	}
}

// framing reports whether l is go test's own line about a test's progress rather than what
// the test said.
func framing(l string) bool {
	t := strings.TrimSpace(l)
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// reason is what a skipped test said, on one line.
func reason(lines []string) string {
	var said []string
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !framing(l) {
			said = append(said, t)
		}
	}
	if len(said) == 0 {
		return "(no reason given)"
	}
	return strings.Join(said, " / ")
}

// close prints the closing line and reports whether the run passed.
func (r *report) close() bool {
	fmt.Fprintf(r.out, "%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
	return r.failed == 0 && !r.broken
}
