package initproc

import "slices"

// The paths runc masks or makes read-only by default: they reveal or
// change host state (kernel memory, keys, timers) that a container must
// not touch, even though /proc itself is the container's own. The init
// applies them (mounts_linux.go); plugin/oci writes them into config.json.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	// scratchDirs get a tmpfs each over the read-only default root
	// filesystem: where programs expect to write.
	scratchDirs = []string{"/tmp", "/root", "/run", "/home"}
)

// MaskedPaths are the paths hidden from a sandbox's processes.
func MaskedPaths() []string { return slices.Clone(maskedPaths) }

// ReadonlyPaths are the paths made read-only inside a sandbox.
func ReadonlyPaths() []string { return slices.Clone(readonlyPaths) }

// ScratchDirs are the directories that get a tmpfs over a read-only root.
func ScratchDirs() []string { return slices.Clone(scratchDirs) }
