//go:build linux

package network

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsPath is the file that names pid's network namespace.
func netnsPath(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }

// sharesHostNetns reports whether pid is in the caller's network
// namespace. Attach refuses such a process: renaming "its" link to eth0
// and giving it a default route would rewire the host itself.
func sharesHostNetns(pid int) (bool, error) {
	var self, other unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		return false, fmt.Errorf("stat own network namespace: %w", err)
	}
	if err := unix.Stat(netnsPath(pid), &other); err != nil {
		return false, fmt.Errorf("process %d: %w", pid, err)
	}
	return self.Dev == other.Dev && self.Ino == other.Ino, nil
}

// handleAt opens a netlink socket inside pid's network namespace. The
// library creates the socket on a locked thread that joins the namespace
// and returns; the socket stays bound to that namespace, so requests on
// it act there while this thread stays in the host's.
func handleAt(pid int) (*netlink.Handle, error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", netnsPath(pid), err)
	}
	defer func() { _ = ns.Close() }()
	// NETLINK_ROUTE alone carries links, addresses and routes, all a
	// bridge and its veths need. Left unnamed, the library also opens the
	// xfrm and netfilter families, which fail ("protocol not supported")
	// on a kernel whose xfrm_user or nfnetlink module is not loaded and
	// cannot be.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", netnsPath(pid), err)
	}
	return h, nil
}

// inNetns runs fn on an OS thread that has joined pid's network
// namespace, and returns the thread to the caller's namespace afterwards.
// Sockets fn creates stay in pid's namespace for good and may be used from
// any goroutine. The goroutine's thread is locked throughout so no other
// goroutine runs in the wrong namespace; if switching back fails, the
// thread stays locked, and the Go runtime then ends it with the goroutine
// instead of reusing it.
func inNetns(pid int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer func() { _ = orig.Close() }()
		target, err := netns.GetFromPid(pid)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open %s: %w", netnsPath(pid), err)
			return
		}
		defer func() { _ = target.Close() }()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns(%s): %w", netnsPath(pid), err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back to own network namespace: %w", err))
			return // thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// isNotFound reports whether err says a link does not exist.
func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, os.ErrNotExist)
}

// retryDump repeats a netlink dump the kernel interrupted (because the
// table changed while it was being read, e.g. another sandbox starting),
// so callers never act on a partial list.
func retryDump(fn func() error) error {
	var err error
	for range 10 {
		if err = fn(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}
