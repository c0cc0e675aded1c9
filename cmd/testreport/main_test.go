package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	t.Parallel()
	const p = `"Package":"example.com/p"`
	tests := []struct {
		name   string
		in     []string
		passed bool
		want   []string // lines of the output, in order
		hidden []string // what must not be printed
	}{
		{
			name: "a passing test's logs stay in the log",
			in: []string{
				`{"Action":"run",` + p + `,"Test":"TestA"}`,
				`{"Action":"output",` + p + `,"Test":"TestA","Output":"=== RUN   TestA\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestA","Output":"    logger.go:146: WARN relay retrying\n"}`,
				`{"Action":"pass",` + p + `,"Test":"TestA","Elapsed":0.01}`,
				`{"Action":"pass",` + p + `,"Elapsed":0.5}`,
			},
			passed: true,
			want:   []string{"ok  \texample.com/p\t0.500s", "1 passed, 0 failed, 0 skipped"},
			hidden: []string{"WARN", "=== RUN"},
		},
		{
			name: "a skip is one line naming the test and its reason",
			in: []string{
				`{"Action":"output",` + p + `,"Test":"TestB/sub","Output":"=== RUN   TestB/sub\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestB/sub","Output":"    b_test.go:9: no PostgreSQL:\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestB/sub","Output":"        connection refused\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestB/sub","Output":"--- SKIP: TestB/sub (0.00s)\n"}`,
				`{"Action":"skip",` + p + `,"Test":"TestB/sub"}`,
				`{"Action":"pass",` + p + `,"Test":"TestB"}`,
				`{"Action":"pass",` + p + `}`,
			},
			passed: true,
			want:   []string{"--- SKIP: example.com/p TestB/sub: b_test.go:9: no PostgreSQL: / connection refused", "ok  \texample.com/p\t0.000s", "1 passed, 0 failed, 1 skipped"},
		},
		{
			name: "a failure prints what the test said",
			in: []string{
				`{"Action":"output",` + p + `,"Test":"TestC","Output":"=== RUN   TestC\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestC","Output":"    c_test.go:3: got 1, want 2\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestC","Output":"--- FAIL: TestC (0.00s)\n"}`,
				`{"Action":"fail",` + p + `,"Test":"TestC","Elapsed":0.02}`,
				`{"Action":"output",` + p + `,"Output":"FAIL\n"}`,
				`{"Action":"fail",` + p + `}`,
			},
			want: []string{"--- FAIL: example.com/p TestC (0.02s)", "    c_test.go:3: got 1, want 2", "FAIL", "0 passed, 1 failed, 0 skipped"},
		},
		{
			name: "a package that panics outside a test fails the run",
			in: []string{
				`{"Action":"output",` + p + `,"Output":"panic: test timed out after 10m0s\n"}`,
				`{"Action":"fail",` + p + `,"Elapsed":600}`,
			},
			want: []string{"panic: test timed out after 10m0s", "0 passed, 0 failed, 0 skipped"},
		},
		{
			name: "a test cut short by a timeout fails with what it printed",
			in: []string{
				`{"Action":"run",` + p + `,"Test":"TestD"}`,
				`{"Action":"output",` + p + `,"Test":"TestD","Output":"=== RUN   TestD\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestD","Output":"panic: test timed out after 3s\n"}`,
				`{"Action":"output",` + p + `,"Test":"TestD","Output":"\trunning tests:\n"}`,
				`{"Action":"output",` + p + `,"Output":"FAIL\texample.com/p\t3.012s\n"}`,
				`{"Action":"fail",` + p + `,"Elapsed":3.012}`,
			},
			want: []string{"--- FAIL: example.com/p TestD (did not finish)", "panic: test timed out after 3s", "\trunning tests:", "FAIL\texample.com/p\t3.012s", "0 passed, 1 failed, 0 skipped"},
		},
		{
			name: "a build failure is printed and fails the run",
			in: []string{
				`{"ImportPath":"example.com/p [example.com/p.test]","Action":"build-output","Output":"p_test.go:1:1: undefined: x\n"}`,
				`{"ImportPath":"example.com/p [example.com/p.test]","Action":"build-fail"}`,
				`FAIL	example.com/p [build failed]`,
			},
			want: []string{"p_test.go:1:1: undefined: x", "FAIL\texample.com/p [build failed]", "0 passed, 0 failed, 0 skipped"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, log bytes.Buffer
			r := newReport(&out, &log)
			if err := r.read(strings.NewReader(strings.Join(tc.in, "\n") + "\n")); err != nil {
				t.Fatal(err)
			}
			if got := r.close(); got != tc.passed {
				t.Errorf("passed = %v, want %v", got, tc.passed)
			}
			got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, h := range tc.hidden {
				if strings.Contains(out.String(), h) {
					t.Errorf("printed %q", h)
				}
				if !strings.Contains(log.String(), h) {
					t.Errorf("the log lacks %q", h)
				}
			}
		})
	}
}
