package cgroup

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
)

// write sets one cgroup file as a step a learner can repeat with echo.
func write(sink event.Sink, file, value string) error {
	shell := value
	if strings.ContainsAny(value, " \t") {
		shell = `"` + value + `"`
	}
	return event.Step(sink, "write "+file+" = "+value, "echo "+shell+" > "+file, func() error {
		// cgroupfs takes each write(2) whole; os.WriteFile's O_TRUNC is ignored.
		return bare("write", file, os.WriteFile(file, []byte(value), 0o644))
	})
}

// bare wraps err as "op path: cause", without the *PathError's own copy of
// the path, so messages name the path once.
func bare(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, path, unwrapPath(err))
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ReadInt reads a one-number cgroup file. "max", and v1's "unlimited" (a number
// near 2^63), read as 0: no limit.
func ReadInt(file string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, unwrapPath(err))
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %q is not a number", file, s)
	}
	if n >= 1<<62 {
		return 0, nil
	}
	return n, nil
}

// ReadKeyed reads a flat-keyed cgroup file such as memory.events or cpu.stat:
// one "key number" pair per line. Lines that are not are skipped.
func ReadKeyed(file string) (map[string]int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, unwrapPath(err))
	}
	out := map[string]int64{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out, nil
}

// readProcs lists the PIDs in one directory's cgroup.procs.
func readProcs(dir string) ([]int, error) {
	file := dir + "/cgroup.procs"
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, unwrapPath(err))
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}
