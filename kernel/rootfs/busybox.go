package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
)

// busyboxCandidates are where distributions install a busybox binary;
// busybox-static on Debian and Ubuntu provides /bin/busybox.
var busyboxCandidates = []string{
	"/bin/busybox",
	"/usr/bin/busybox",
	"/sbin/busybox",
	"/usr/sbin/busybox",
	"/usr/lib/busybox/busybox-static",
	"/bin/busybox.static",
	"/usr/bin/busybox-static",
}

// wantedApplets are the commands the lab's exercises use, plus the usual
// tools a learner reaches for. Only those the host's busybox was built with
// get a symlink.
var wantedApplets = []string{
	"[", "[[", "ash", "awk", "base64", "basename", "cat", "chgrp", "chmod", "chown",
	"chroot", "clear", "cmp", "cp", "cut", "date", "dd", "df", "diff", "dirname",
	"dmesg", "du", "echo", "egrep", "env", "expr", "false", "fgrep", "find", "free",
	"getopt", "grep", "gunzip", "gzip", "head", "hexdump", "hostname", "httpd", "id", "ifconfig",
	"ip", "ipcrm", "ipcs", "kill", "killall", "less", "ln", "ls", "md5sum", "mkdir", "mkfifo", "mknod",
	"more", "mount", "mountpoint", "mv", "nc", "netstat", "nice", "nproc", "nslookup", "nsenter",
	"od", "pgrep", "pidof", "ping", "pkill", "printf", "ps", "pwd", "readlink",
	"realpath", "renice", "reset", "rev", "rm", "rmdir", "route", "sed", "seq",
	"setsid", "sh", "sha256sum", "sleep", "sort", "stat", "strings", "stty", "sync",
	"tail", "tar", "taskset", "tee", "test", "time", "timeout", "top", "touch", "tr", "traceroute",
	"true", "truncate", "tty", "umount", "uname", "uniq", "unshare", "uptime",
	"usleep", "vi", "watch", "wc", "wget", "which", "whoami", "xargs", "yes", "zcat",
}

// findStaticBusybox returns the first statically linked busybox on the host.
// A dynamically linked one is useless in an empty rootfs without its
// libraries, so it is passed over; the error lists why each candidate was.
func findStaticBusybox() (string, error) {
	var why []string
	for _, p := range busyboxCandidates {
		fi, err := os.Stat(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				why = append(why, fmt.Sprintf("%s: %v", p, err))
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			why = append(why, p+" is not a regular file")
			continue
		}
		static, err := IsStatic(p)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if !static {
			why = append(why, p+" is dynamically linked")
			continue
		}
		return p, nil
	}
	if len(why) == 0 {
		why = append(why, "none of "+strings.Join(busyboxCandidates, ", ")+" exists")
	}
	return "", fmt.Errorf("no static busybox on the host (install busybox-static): %s", strings.Join(why, "; "))
}

// busyboxApplets returns the members of wantedApplets that the busybox
// binary data contains.
//
// Busybox keeps its applet names as one NUL-separated, sorted list
// ("[\0[[\0acpid\0addgroup\0..."). We find that list as the longest run of
// NUL-separated, strictly ascending, applet-like strings, which avoids
// running the binary (it might not even be for this CPU). If no such run
// exists, fall back to looking for "\0name\0" anywhere in the file.
func busyboxApplets(data []byte) []string {
	table := appletTable(data)
	var out []string
	for _, a := range wantedApplets {
		if table != nil {
			if table[a] {
				out = append(out, a)
			}
		} else if bytes.Contains(data, []byte("\x00"+a+"\x00")) {
			out = append(out, a)
		}
	}
	return out
}

// appletTable finds busybox's sorted applet-name list; nil if not found.
func appletTable(data []byte) map[string]bool {
	var (
		bestStart, bestEnd, bestLen int // byte range and length of the best run
		runStart, runLen            int
		prev                        []byte
	)
	start := 0
	for i, b := range data {
		if b != 0 {
			continue
		}
		tok := data[start:i]
		switch {
		case !appletLike(tok):
			runLen, prev = 0, nil
		case runLen > 0 && bytes.Compare(prev, tok) < 0:
			runLen++
			prev = tok
		default:
			runStart, runLen, prev = start, 1, tok
		}
		if runLen > bestLen {
			bestStart, bestEnd, bestLen = runStart, i, runLen
		}
		start = i + 1
	}
	// Busybox builds carry dozens to hundreds of applets; a short run is
	// some other string table.
	if bestLen < 10 {
		return nil
	}
	table := make(map[string]bool, bestLen)
	for _, name := range bytes.Split(data[bestStart:bestEnd], []byte{0}) {
		table[string(name)] = true
	}
	return table
}

func appletLike(tok []byte) bool {
	if len(tok) == 0 || len(tok) > 32 {
		return false
	}
	for _, c := range tok {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' && c != '[' {
			return false
		}
	}
	return true
}

// buildFromBusybox fills the skeleton at dir with the static busybox at bb
// and one symlink per applet, so /bin/sh, /bin/ls... all run busybox, which
// picks the applet from argv[0].
func buildFromBusybox(dir, bb string, sink event.Sink) error {
	data, err := os.ReadFile(bb)
	if err != nil {
		return fmt.Errorf("reading %s: %w", bb, err)
	}
	applets := busyboxApplets(data)
	if !slices.Contains(applets, "sh") {
		return fmt.Errorf("%s has no sh applet; cannot build a usable rootfs from it", bb)
	}
	event.Narrate(sink, fmt.Sprintf("Using the host's static busybox %s: one statically linked binary "+
		"needs no libraries, so it is all a root filesystem needs. %d of its applets get a symlink in /bin.", bb, len(applets)))

	dst := filepath.Join(dir, "bin", "busybox")
	err = event.Step(sink, fmt.Sprintf("copy(%q -> %q)", bb, dst), fmt.Sprintf("cp %s %s", bb, dst), func() error {
		return writeFile(dst, data, 0o755)
	})
	if err != nil {
		return fmt.Errorf("copying busybox: %w", err)
	}

	bin := filepath.Join(dir, "bin")
	return event.Step(sink,
		fmt.Sprintf("symlink(\"busybox\", %q) for %d applets", filepath.Join(bin, "<applet>"), len(applets)),
		fmt.Sprintf("for a in %s; do ln -s busybox %s/$a; done", strings.Join(applets, " "), bin),
		func() error {
			for _, a := range applets {
				if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
					return fmt.Errorf("linking applet %s: %w", a, err)
				}
			}
			return nil
		})
}

// writeFile creates path (which must not exist) with data and exactly mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode) // fchmod: not subject to the umask
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
