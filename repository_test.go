package userservice_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// maxTrackedBytes is the largest file git may track: the largest source file is a fraction of
// it, a build output (a 40 MB binary was once committed) far above.
const maxTrackedBytes = 2 << 20

// TestNoBuildOutputsTracked: build outputs (binaries, databases, profiles) are never
// committed; .gitignore keeps them out, this catches what slips past it.
func TestNoBuildOutputsTracked(t *testing.T) {
	t.Parallel()
	if self, err := os.Executable(); err != nil || !executable(self) {
		t.Fatalf("the check does not recognise this test's own binary %s (%v)", self, err)
	}
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("SKIPPED: not a git checkout (%v)", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		info, err := os.Stat(name)
		if err != nil {
			continue // deleted in the work tree, not yet committed
		}
		if info.Size() > maxTrackedBytes {
			t.Errorf("%s: %d bytes tracked; build outputs and data do not belong in git", name, info.Size())
		}
		if executable(name) {
			t.Errorf("%s: a compiled executable is tracked", name)
		}
	}
}

// executable reports whether the file starts like an ELF, Mach-O or PE executable.
func executable(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	head := make([]byte, 4)
	if n, _ := f.Read(head); n < 4 {
		return false
	}
	for _, magic := range [][]byte{{0x7f, 'E', 'L', 'F'}, {0xcf, 0xfa, 0xed, 0xfe}, {0xfe, 0xed, 0xfa, 0xcf}, {'M', 'Z', 0x90, 0x00}} {
		if bytes.Equal(head, magic) {
			return true
		}
	}
	return false
}
