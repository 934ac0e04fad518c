package journal

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcStartTime reads a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat). With the PID it names one process for good.
func ProcStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// ')' itself, so count fields from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields, want 22 or more", pid, len(fields)+2)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
