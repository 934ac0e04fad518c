package cgroup

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits are what a Group enforces. A zero field sets no limit.
type Limits struct {
	// MemoryBytes caps RAM (and swap, so swap cannot absorb a hog).
	MemoryBytes int64
	// CPUs is a share of CPU time: 0.5 is half a CPU, a quota of 50000µs
	// in every 100000µs period.
	CPUs float64
	// Pids caps how many processes and threads may exist at once.
	Pids int64
}

// Zero reports whether no limit is set.
func (l Limits) Zero() bool { return l == Limits{} }

// CPUPeriod is the CFS period, in µs, against which CPUs becomes a quota.
// 100ms is the kernel's default.
const CPUPeriod = 100000

// minQuota is the smallest CFS quota the kernel accepts, in µs.
const minQuota = 1000

// Quota turns CPUs into a CFS quota, in µs per CPUPeriod.
func (l Limits) Quota() int64 { return int64(math.Round(l.CPUs * CPUPeriod)) }

// Validate rejects limits the kernel would refuse, before anything is created.
func (l Limits) Validate() error {
	switch {
	case l.MemoryBytes < 0:
		return fmt.Errorf("memory limit %d: must not be negative", l.MemoryBytes)
	case l.Pids < 0:
		return fmt.Errorf("pids limit %d: must not be negative", l.Pids)
	case math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) || l.CPUs < 0:
		return fmt.Errorf("cpu limit %v: must be a positive number of CPUs", l.CPUs)
	case l.CPUs > 0 && l.Quota() < minQuota:
		return fmt.Errorf("cpu limit %v: too small; the kernel needs a quota of at least %dµs per %dµs period, i.e. --cpus %.2f",
			l.CPUs, minQuota, CPUPeriod, float64(minQuota)/CPUPeriod)
	case l.Quota() > math.MaxInt32*int64(CPUPeriod):
		return fmt.Errorf("cpu limit %v: too large", l.CPUs)
	}
	return nil
}

// ParseMemory reads a size such as "64M", "1G", "512K", "1.5G" or a plain
// number of bytes. Units are powers of 1024, as cgroups and docker use; a
// trailing "B" or "iB" and lower case are accepted ("64mb", "64MiB").
func ParseMemory(s string) (int64, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("--memory: empty; give a size such as 64M")
	}
	upper := strings.ToUpper(s)
	upper = strings.TrimSuffix(upper, "IB")
	if len(upper) > 1 {
		upper = strings.TrimSuffix(upper, "B")
	}
	i := strings.IndexFunc(upper, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := upper, ""
	if i >= 0 {
		num, unit = upper[:i], upper[i:]
	}
	if num == "" {
		return 0, fmt.Errorf("--memory %s: must start with a number, e.g. 64M", in)
	}
	mult := int64(1)
	switch unit {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("--memory %s: unknown unit %s; use K, M or G", in, unit)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("--memory %s: %q is not a number", in, num)
	}
	v := math.Round(f * float64(mult))
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("--memory %s: too large", in)
	}
	return int64(v), nil
}
