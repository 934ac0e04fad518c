// Package testbuild builds kcna-lab's two programs for tests and
// benchmarks the way `make build` does, so that they measure and check
// what learners run. Keep its flags and the Makefile's in step.
package testbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NativeEnv, set to 0, builds kcna-lab-init without the native init even
// where it could have it, to test the Go init alone.
const NativeEnv = "KCNA_LAB_NATIVE"

// Lab builds cmd/kcna-lab as dir/kcna-lab, static and without cgo.
func Lab(dir string) (string, error) {
	bin := filepath.Join(dir, "kcna-lab")
	return bin, build(bin, "github.com/kcna-lab/kcna-lab/cmd/kcna-lab", false)
}

// Init builds cmd/kcna-lab-init as dir/kcna-lab-init: with the native
// init (cgo, linked statically) when this machine's C compiler can link a
// static program, else in Go alone. Either way the program is static: the
// chroot lesson runs it inside a busybox root with no C library. native
// says which it is.
func Init(dir string) (bin string, native bool, err error) {
	bin = filepath.Join(dir, "kcna-lab-init")
	native = os.Getenv(NativeEnv) != "0" && CanLinkStatic()
	return bin, native, build(bin, "github.com/kcna-lab/kcna-lab/cmd/kcna-lab-init", native)
}

// CanLinkStatic reports whether the C compiler (cc, or $CC) can link a
// static C program: cgo needs the compiler, static linking the C
// library's archive (Debian: gcc and libc6-dev).
func CanLinkStatic() bool {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cmd := exec.Command(cc, "-static", "-x", "c", "-o", os.DevNull, "-")
	cmd.Stdin = strings.NewReader("int main(void) { return 0; }\n")
	return cmd.Run() == nil
}

func build(bin, pkg string, cgo bool) error {
	ldflags, cgoEnabled := "-s -w", "0"
	args := []string{"build", "-trimpath", "-o", bin}
	if cgo {
		// Linked statically; netgo and osusergo keep the C library's name
		// services, which cannot be, out of the binary.
		ldflags, cgoEnabled = ldflags+" -linkmode external -extldflags -static", "1"
		args = append(args, "-tags", "netgo,osusergo")
	}
	cmd := exec.Command("go", append(args, "-ldflags", ldflags, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgoEnabled)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	return nil
}
