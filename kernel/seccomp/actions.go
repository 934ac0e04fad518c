package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The kernel's return values (SECCOMP_RET_*) and errno values the
// program uses; kernel ABI, the same everywhere.
const (
	retKillThread  = 0x00000000
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	errnoEPERM  = 1
	errnoENOSYS = 38
	// maxErrno is the highest errno the kernel passes on (MAX_ERRNO).
	maxErrno = 4095
)

// action is the kernel's return value for a profile's action, as runc
// and libseccomp map them: SCMP_ACT_KILL kills the thread, an errno
// defaults to EPERM.
func action(name specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(errnoEPERM)
	if errnoRet != nil {
		if *errnoRet > maxErrno {
			return 0, fmt.Errorf("errnoRet %d: the kernel passes on errno values up to %d", *errnoRet, maxErrno)
		}
		data = uint32(*errnoRet)
	}
	switch name {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("%s hands the call to a seccomp agent listening on listenerPath; kcna-lab has none", name)
	case "":
		return 0, fmt.Errorf("no action; use one of %s", actionNames)
	}
	return 0, fmt.Errorf("%q is not a seccomp action; use one of %s", name, actionNames)
}

const actionNames = "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD (or SCMP_ACT_KILL), SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG"

// checkArgs refuses argument tests the kernel cannot make.
func checkArgs(args []specs.LinuxSeccompArg) error {
	for _, a := range args {
		if a.Index > 5 {
			return fmt.Errorf("args index %d: a system call has six arguments, 0 to 5", a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual:
		default:
			return fmt.Errorf("args op %q is not a comparison; use one of SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_GT, SCMP_CMP_GE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_MASKED_EQ", a.Op)
		}
	}
	return nil
}

// flagTsync, which runtime-spec does not name, applies the filter to
// every thread of the process.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// filterFlags are the seccomp() flags a profile asks for, by value.
func filterFlags(flags []specs.LinuxSeccompFlag) (uint32, error) {
	known := map[specs.LinuxSeccompFlag]uint32{
		flagTsync:                       1, // the Go init synchronises its threads anyway
		specs.LinuxSeccompFlagLog:       2,
		specs.LinuxSeccompFlagSpecAllow: 4,
	}
	var out uint32
	for _, f := range flags {
		v, ok := known[f]
		if !ok {
			return 0, fmt.Errorf("flags: %q is not one kcna-lab can pass to seccomp(2); it knows %s, %s and %s", f, flagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow)
		}
		out |= v
	}
	return out, nil
}
