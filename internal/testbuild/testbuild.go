// Package testbuild gives tests and benchmarks kcna-lab's two programs as
// `make build` makes them, so that they measure and check what learners
// run. `make test` and `make test-vm` build them once and name their
// directory in $KCNA_TEST_BINDIR; without it (`go test` by hand) they are
// built here with the go command. Keep the flags below and the Makefile's
// in step.
package testbuild

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// NativeEnv, set to 0, asks for kcna-lab-init without the native init even
// where it could have it, to test the Go init alone.
const NativeEnv = "KCNA_LAB_NATIVE"

// BinDirEnv names a directory of prebuilt programs: kcna-lab and
// kcna-lab-full (the slim front and the rest of the CLI), kcna-lab-init
// (with the native init when the C compiler could link it) and
// kcna-lab-init-go (the Go init alone). When it is set the programs
// are copied from there, never built: the test VM has no go command, and
// `make test` builds once instead of in every test.
const BinDirEnv = "KCNA_TEST_BINDIR"

// The programs' file names, here and in $KCNA_TEST_BINDIR.
const (
	labName    = "kcna-lab"
	fullName   = "kcna-lab-full"
	initName   = "kcna-lab-init"
	initGoName = "kcna-lab-init-go"
)

// ErrUnavailable is why a program could be neither copied nor built.
var ErrUnavailable = errors.New("no prebuilt programs ($" + BinDirEnv + " is unset; `make test` sets it) and no go command to build kcna-lab")

// Lab puts kcna-lab, static and without cgo, in dir and returns its path,
// with kcna-lab-full beside it, to which it hands most commands.
// It skips tb when there is no way to have it, and fails tb when it does
// not build.
func Lab(tb testing.TB, dir string) string {
	tb.Helper()
	bin, err := LabProgram(dir)
	must(tb, err)
	return bin
}

// Init puts kcna-lab-init in dir, as Lab does kcna-lab; native says
// whether it carries the native init.
func Init(tb testing.TB, dir string) (bin string, native bool) {
	tb.Helper()
	bin, native, err := InitProgram(dir)
	must(tb, err)
	return bin, native
}

// Available returns nil when Lab and Init can give their programs (from
// $KCNA_TEST_BINDIR, or built with go), else ErrUnavailable: a test that
// runs the programs in subtests asks first, so that it skips as a whole.
func Available() error {
	if _, ok := prebuilt(labName); ok {
		return nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return ErrUnavailable
	}
	return nil
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrUnavailable) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// LabProgram is Lab for callers without a testing.TB (a TestMain): the
// error wraps ErrUnavailable when there is no way to have the program.
func LabProgram(dir string) (string, error) {
	bin := filepath.Join(dir, labName)
	for name, pkg := range map[string]string{labName: "cmd/kcna-lab", fullName: "cmd/kcna-lab-full"} {
		dst := filepath.Join(dir, name)
		if src, ok := prebuilt(name); ok {
			if err := copyProgram(src, dst); err != nil {
				return bin, err
			}
			continue
		}
		if err := build(dst, "github.com/kcna-lab/kcna-lab/"+pkg, false); err != nil {
			return bin, err
		}
	}
	return bin, nil
}

// InitProgram is Init for callers without a testing.TB. The program is
// dir/kcna-lab-init: with the native init (cgo, linked statically) when
// one can be had (see Native) and $KCNA_LAB_NATIVE is not 0, else in Go
// alone. Either way it is static: the chroot lesson runs it inside a
// busybox root with no C library.
func InitProgram(dir string) (bin string, native bool, err error) {
	bin = filepath.Join(dir, initName)
	wantNative, name := os.Getenv(NativeEnv) != "0", initName
	if !wantNative {
		name = initGoName
	}
	if src, ok := prebuilt(name); ok {
		if err := copyProgram(src, bin); err != nil {
			return bin, false, err
		}
		kind, err := initKind(bin)
		return bin, kind == "native", err
	}
	native = wantNative && canLinkStatic()
	return bin, native, build(bin, "github.com/kcna-lab/kcna-lab/cmd/kcna-lab-init", native)
}

// Native returns nil when Init can give a kcna-lab-init with the native
// init, else why not: $KCNA_TEST_BINDIR's was built without one, or no C
// compiler here links a static program.
func Native() error {
	nativeOnce.Do(func() { nativeErr = native() })
	return nativeErr
}

var (
	nativeOnce sync.Once
	nativeErr  error
)

func native() error {
	if src, ok := prebuilt(initName); ok {
		kind, err := initKind(src)
		if err == nil && kind != "native" {
			err = fmt.Errorf("%s carries the %s init, not the native one (it was built without a C compiler that links statically)", src, kind)
		}
		return err
	}
	if err := Available(); err != nil {
		return err
	}
	if !canLinkStatic() {
		return errors.New("no C compiler that links statically (Debian: gcc and libc6-dev): kcna-lab-init has no native init on this machine")
	}
	return nil
}

// prebuilt returns $KCNA_TEST_BINDIR/name when the variable is set. A
// missing file is then the caller's error to report, not a reason to
// build: the variable says the programs were built already.
func prebuilt(name string) (string, bool) {
	dir := os.Getenv(BinDirEnv)
	if dir == "" {
		return "", false
	}
	return filepath.Join(dir, name), true
}

// copyProgram copies src to dst, mode 0755. A copy, not src itself: the
// callers choose dst's directory so that the sandbox's root (another host
// uid) or nobody can reach it, and so that kcna-lab finds the init they
// asked for beside it.
func copyProgram(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("prebuilt program ($%s): %w; `make test` builds them into bin/", BinDirEnv, err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o755) // whatever the umask
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// initKind asks an init program which init it carries, as doctor does.
func initKind(bin string) (string, error) {
	out, err := exec.Command(bin, initproc.KindArg).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", bin, initproc.KindArg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// canLinkStatic reports whether the C compiler (cc, or $CC) can link a
// static C program: cgo needs the compiler, static linking the C
// library's archive (Debian: gcc and libc6-dev).
func canLinkStatic() bool {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cmd := exec.Command(cc, "-static", "-x", "c", "-o", os.DevNull, "-")
	cmd.Stdin = strings.NewReader("int main(void) { return 0; }\n")
	return cmd.Run() == nil
}

func build(bin, pkg string, cgo bool) error {
	if err := Available(); err != nil {
		return err
	}
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

// RunWithInitProgram runs a package's tests with sandboxes started by
// kcna-lab-init as `make build` ships it, named in the environment
// variable env (sandbox.InitProgramEnv), when it is at hand and the tests
// run as root; otherwise the test binary stays its own init, and says why.
func RunWithInitProgram(m *testing.M, env string) int {
	if os.Geteuid() == 0 && os.Getenv(env) == "" {
		dir, err := os.MkdirTemp("", "kcna-test-init-")
		if err == nil {
			defer func() { _ = os.RemoveAll(dir) }()
			_ = os.Chmod(dir, 0o755)
			var bin string
			if bin, _, err = InitProgram(dir); err == nil {
				err = os.Setenv(env, bin)
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kcna-lab-init is not at hand (%v); this test binary is the init\n", err)
		}
	}
	return m.Run()
}
