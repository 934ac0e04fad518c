//go:build linux

package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// The IPAM is one JSON file per bridge, <stateDir>/<bridge>.json, guarded
// by an flock on <bridge>.lock. Every kcna-lab process that changes the
// bridge (Attach, Detach, Prune) holds that lock for the whole change, so
// two sandboxes started at once neither get the same address nor see the
// bridge half made or half removed. The lock is a separate file because
// the lease file is replaced by rename (so that lock-free readers, such
// as the DNS lookup, never see half a file), and an flock on a file that
// is renamed away no longer excludes anyone.

// leaseFile is the on-disk form.
type leaseFile struct {
	Bridge string       `json:"bridge"`
	Subnet netip.Prefix `json:"subnet"`
	Leases []Lease      `json:"leases"`
}

func leasePath(bridge string) string { return filepath.Join(stateDir(), bridge+".json") }
func lockPath(bridge string) string  { return filepath.Join(stateDir(), bridge+".lock") }

// lockWait is how long Attach waits for another kcna-lab to finish with
// the same bridge before saying so.
const lockWait = 30 * time.Second

// fileLock is a held flock.
type fileLock struct{ f *os.File }

// lockBridge takes the bridge's lock. flock belongs to the open file
// description, so two goroutines of one process that each call lockBridge
// exclude each other just as two processes do.
func lockBridge(bridge string) (*fileLock, error) {
	if err := os.MkdirAll(stateDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create IPAM dir: %w", err)
	}
	p := lockPath(bridge)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open IPAM lock: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("another kcna-lab has been changing network %s for %s (it holds %s); try again when it is done", bridge, lockWait, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unlock releases the lock (closing the file drops the flock).
func (l *fileLock) unlock() { _ = l.f.Close() }

// readLeases reads the bridge's lease file; a missing file has no leases.
func readLeases(bridge string) (leaseFile, error) {
	lf := leaseFile{Bridge: bridge}
	b, err := os.ReadFile(leasePath(bridge))
	if errors.Is(err, os.ErrNotExist) {
		return lf, nil
	}
	if err != nil {
		return lf, fmt.Errorf("read IPAM leases: %w", err)
	}
	if err := json.Unmarshal(b, &lf); err != nil {
		// Starting over could hand a running sandbox's address to another;
		// better to stop and say where the file is.
		return lf, fmt.Errorf("IPAM lease file %s is damaged; stop kcna-lab's sandboxes on %s and delete it: %w", leasePath(bridge), bridge, err)
	}
	return lf, nil
}

// writeLeases replaces the lease file atomically. Only the lock holder
// writes, so one fixed temporary name is enough.
func writeLeases(lf leaseFile) error {
	b, err := json.MarshalIndent(lf, "", "  ")
	if err != nil {
		return err
	}
	tmp := leasePath(lf.Bridge) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write IPAM leases: %w", err)
	}
	if err := os.Rename(tmp, leasePath(lf.Bridge)); err != nil {
		return fmt.Errorf("write IPAM leases: %w", err)
	}
	return nil
}

// alive reports whether the lease's process is still the one that took it.
// A zombie is not: it has left its namespaces (and so its eth0) already,
// and one whose parent died (a rootless sandbox's init, when its network
// holder was killed) waits for a reaper that may never come.
func (l Lease) alive() bool {
	st, err := journal.ProcStartTime(l.PID)
	return err == nil && st == l.StartTime && !zombie(l.PID)
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// liveLeases splits leases into those whose owner lives and those whose
// owner is gone (whose addresses may be handed out again).
func liveLeases(ls []Lease) (live, dead []Lease) {
	for _, l := range ls {
		if l.alive() {
			live = append(live, l)
		} else {
			dead = append(dead, l)
		}
	}
	return live, dead
}

// allocate returns the lowest free host address of subnet, skipping the
// network address, the gateway (the first host, on the bridge) and the
// broadcast address.
func allocate(subnet netip.Prefix, used []Lease) (netip.Addr, error) {
	taken := map[netip.Addr]bool{}
	for _, l := range used {
		taken[l.IP] = true
	}
	gw := subnet.Masked().Addr().Next()
	last := lastAddr(subnet)
	for a := gw.Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if !taken[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s is full (%d sandboxes attached); stop one or use a larger --subnet", subnet, len(used))
}

// Leases returns the live leases on bridge ("" for DefaultBridge): which
// sandbox has which address. It reads without the lock; the file is only
// ever replaced whole.
func Leases(bridge string) ([]Lease, error) {
	if bridge == "" {
		bridge = DefaultBridge
	}
	lf, err := readLeases(bridge)
	if err != nil {
		return nil, err
	}
	live, _ := liveLeases(lf.Leases)
	return live, nil
}

// Lookup returns a lookup function for ServeDNS backed by the IPAM of
// bridge ("" for DefaultBridge): a name resolves while the sandbox that
// holds the lease is running. A stopped sandbox's name stops resolving at
// once, even before anyone calls Detach, because a lease whose process is
// gone counts for nothing.
func Lookup(bridge string) func(name string) (netip.Addr, bool) {
	return func(name string) (netip.Addr, bool) {
		ls, err := Leases(bridge)
		if err != nil {
			return netip.Addr{}, false
		}
		for _, l := range ls {
			if l.Name == name {
				return l.IP, true
			}
		}
		return netip.Addr{}, false
	}
}
