// The native init: see native.go for why it exists and when it runs.
//
// kl_native runs as a constructor, before the Go runtime starts. Started
// as kcna-lab-init with a plan the parent marked native, it carries the
// plan out, starts the command, stays as PID 1 and never returns; for
// anything else it returns, having put back what it read, and the Go init
// (package initproc) runs instead. The steps and their reports mirror
// initproc's runPlan (plan_linux.go), the plan's binary form initproc's
// Plan.Marshal (wire.go), the reports' lines initproc's Report
// (report.go).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
// Older C library headers lack the newer system calls' numbers, which
// are the same on every architecture since Linux 5.1.
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

// The descriptors, the protocol version, the plan's layout, the step
// numbers, the reports' lines and the names the parent and the Go init
// use, generated from package initproc's Go source (go generate
// ./sandbox/initproc/). OP_ESCAPE_TOOL is the Go init's alone: a plan
// with it is never marked native.
#include "protocol.h"

// A step, as the parent sends it (KL_OP_WIRE): what to carry out. Its
// words stay with the parent, to which the init reports the step's index.
struct op {
	uint32_t kind, mkdir, touch, contained;
	uint64_t flags, keep;
	int32_t fd, skip, last;
	const char *path, *source, *fstype, *data, *label;
	struct sock_filter *filter; // OP_SECCOMP's program
	unsigned short nfilter;
};

struct plan {
	uint32_t flags; // PLAN_NATIVE, ...
	char **args, **env;
	const char *root;
	struct op *ops;
	uint32_t nops;
};

// guard_cap is a capability PID 1 holds and the sandbox's processes do
// not (initproc.GuardCap): a process may ptrace, read /proc/PID/fd of or
// take descriptors from (pidfd_getfd) another of its uid only if it holds
// every capability that one does. So between resume's execve, which
// makes PID 1 dumpable again, and the prctl that undoes it, no process in
// the sandbox can reach PID 1's descriptors: the exec socket, the host's
// event pipe. The Go init drops it once it is not dumpable.
// GUARD_CAP (protocol.h) is CAP_WAKE_ALARM: harmless to hold.
static uint64_t command_caps; // the set the sandbox's processes get

// The whole of what the parent sent, kept to hand on to the Go init.
static char *config;
static size_t config_len;

// Events are held until the sandbox is built, then sent in one write.
static char *ev;
static size_t ev_len, ev_cap;

// The last error, as the Go init would word it.
static char err_text[4096];

static int read_config(void);
static void result(int code, int sig);
static int parse_plan(struct plan *p);
static int stash_config(void);
static _Noreturn void run(struct plan *p);

void kl_native(int argc, char **argv)
{
	const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
	name = name ? name + 1 : (argc > 0 ? argv[0] : "");
	if (strcmp(name, INIT_ARG0) != 0)
		return; // the escape program, or not an init at all
	if (argc == 2 && strcmp(argv[1], KIND_ARG) == 0) {
		// For `kcna-lab doctor` (initproc.KindArg).
		puts("native");
		exit(0);
	}
	// Not dumpable, first of all: execve made this image dumpable again,
	// and the sandbox's processes must never open /proc/1/fd or
	// /proc/1/exe (the host's binary; runc's CVE-2019-5736).
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// Only a fresh sandbox init: "resume" is the Go init's.
	if (argc != 1)
		return;
	if (read_config() < 0) {
		stash_config(); // what was read; the Go init reports the rest
		return;
	}
	struct plan p;
	if (parse_plan(&p) < 0) {
		stash_config();
		return;
	}
	run(&p);
}

// ---- the config --------------------------------------------------------

static int read_config(void)
{
	size_t cap = 1 << 16;
	config = malloc(cap);
	if (!config)
		return -1;
	for (;;) {
		if (config_len == cap) {
			char *bigger = realloc(config, cap *= 2);
			if (!bigger)
				return -1;
			config = bigger;
		}
		ssize_t n = read(FD_CONFIG, config + config_len, cap - config_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		config_len += n;
	}
	// FD_CONFIG stays open, so that no other descriptor takes its number
	// before stash_config puts the config back there.
	return 0;
}

// stash_config puts what was read back on FD_CONFIG, as a memfd at its
// start, for the Go init to read as if nothing had.
static int stash_config(void)
{
	int fd = memfd_create("kcna-lab-config", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < config_len) {
		ssize_t n = write(fd, config + off, config_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += n;
	}
	int rc = lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, FD_CONFIG) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

struct cursor {
	const char *p, *end;
	int bad;
};

static uint32_t get_u32(struct cursor *c)
{
	if (c->end - c->p < 4) {
		c->bad = 1;
		return 0;
	}
	const unsigned char *b = (const unsigned char *)c->p;
	c->p += 4;
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct cursor *c)
{
	uint64_t lo = get_u32(c);
	return lo | (uint64_t)get_u32(c) << 32;
}

static const char *get_str(struct cursor *c)
{
	const char *s = c->p;
	const char *nul = c->bad ? NULL : memchr(s, 0, c->end - s);
	if (!nul) {
		c->bad = 1;
		return "";
	}
	c->p = nul + 1;
	return s;
}

// get_filter reads a seccomp program: its length in bytes, then struct
// sock_filter records, little-endian (initproc's wire.bytes), decoded
// field by field into this machine's layout.
static int get_filter(struct cursor *c, struct op *o)
{
	uint32_t n = get_u32(c);
	if (c->bad || n > (uint32_t)(c->end - c->p) || n % 8 || n > 8 * BPF_MAXINSNS)
		return c->bad = 1, -1;
	if (!n)
		return 0;
	o->filter = calloc(n / 8, sizeof *o->filter);
	if (!o->filter)
		return c->bad = 1, -1;
	const unsigned char *b = (const unsigned char *)c->p;
	for (uint32_t i = 0; i < n / 8; i++, b += 8) {
		o->filter[i].code = b[0] | b[1] << 8;
		o->filter[i].jt = b[2];
		o->filter[i].jf = b[3];
		o->filter[i].k = b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24;
	}
	o->nfilter = n / 8;
	c->p += n;
	return 0;
}

static char **get_strs(struct cursor *c)
{
	uint32_t n = get_u32(c);
	if (c->bad || n > (uint32_t)(c->end - c->p))
		return c->bad = 1, NULL;
	char **v = calloc(n + 1, sizeof *v);
	if (!v)
		return c->bad = 1, NULL;
	for (uint32_t i = 0; i < n; i++)
		v[i] = (char *)get_str(c);
	return v;
}

// parse_plan reads the plan's binary form. Anything amiss, or a plan not
// marked native, leaves the sandbox to the Go init, which says what.
static int parse_plan(struct plan *p)
{
	if (config_len < sizeof PROTOCOL_LINE - 1 || memcmp(config, PROTOCOL_LINE, sizeof PROTOCOL_LINE - 1) != 0)
		return -1;
	struct cursor c = {config + sizeof PROTOCOL_LINE - 1, config + config_len, 0};
	// The fields in initproc's order (protocol.h's KL_PLAN_WIRE and
	// KL_OP_WIRE), into the members of the same names.
#define U32(f) o->f = get_u32(&c);
#define I32(f) o->f = (int32_t)get_u32(&c);
#define U64(f) o->f = get_u64(&c);
#define STR(f) o->f = get_str(&c);
#define STRS(f) o->f = get_strs(&c);
#define BYTES(f) if (get_filter(&c, o) < 0) return -1;
	struct plan *o = p;
	KL_PLAN_WIRE(U32, I32, U64, STR, STRS, BYTES)
	p->nops = get_u32(&c);
	if (c.bad || !(p->flags & PLAN_NATIVE) || !p->args || !p->args[0] || p->nops > MAX_OPS)
		return -1;
	p->ops = calloc(p->nops, sizeof *p->ops);
	if (!p->ops)
		return -1;
	for (uint32_t i = 0; i < p->nops; i++) {
		struct op *o = &p->ops[i];
		KL_OP_WIRE(U32, I32, U64, STR, STRS, BYTES)
		if (o->kind == OP_SECCOMP && !o->nfilter)
			return -1;
		// What the steps rely on, checked once here.
		if (o->skip < 0 || (o->mkdir && o->path[0] != '/') || (o->kind == OP_MOVE_MOUNT && o->fd <= FD_EXEC))
			return -1;
	}
#undef U32
#undef I32
#undef U64
#undef STR
#undef STRS
#undef BYTES
	return c.bad || c.p != c.end ? -1 : 0;
}

// ---- events ------------------------------------------------------------

static void ev_put(const char *s, size_t n)
{
	if (ev_len + n > ev_cap) {
		size_t cap = ev_cap ? ev_cap : 1 << 14;
		while (cap < ev_len + n)
			cap *= 2;
		char *bigger = realloc(ev, cap);
		if (!bigger)
			return; // events are lost, the sandbox is not
		ev = bigger, ev_cap = cap;
	}
	memcpy(ev + ev_len, s, n);
	ev_len += n;
}

static void ev_raw(const char *s) { ev_put(s, strlen(s)); }

// report adds a line for the parent (initproc.Report): fmt, one of
// protocol.h's REPORT_ formats, with its numbers, then text, if any, with
// its backslashes and newlines escaped.
static void report(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(const char *text, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ev_raw(line);
	if (text && *text) {
		ev_raw(" ");
		for (const char *t = text; *t; t++) {
			if (*t == '\\')
				ev_raw("\\\\");
			else if (*t == '\n')
				ev_raw("\\n");
			else
				ev_put(t, 1);
		}
	}
	ev_raw("\n");
}

static void ev_flush(void)
{
	size_t off = 0;
	while (off < ev_len) {
		ssize_t n = write(FD_EVENTS, ev + off, ev_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	ev_len = 0;
}

static _Noreturn void fail(int code)
{
	report(err_text, REPORT_FAIL);
	ev_flush();
	_exit(code);
}

// set_errno words errno as Go does: strerror with a small first letter.
static int set_errno(const char *prefix)
{
	int e = errno;
	snprintf(err_text, sizeof err_text, "%s%s", prefix ? prefix : "", strerror(e));
	char *first = err_text + (prefix ? strlen(prefix) : 0);
	if (*first >= 'A' && *first <= 'Z' && !(first[1] >= 'A' && first[1] <= 'Z'))
		*first += 'a' - 'A';
	errno = e;
	return -1;
}

// now_ns times steps. Not CLOCK_MONOTONIC: join_time moves this process
// into a time namespace whose monotonic clock starts near zero, halfway
// through its own step; the wall clock is the same in every namespace.
static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// ---- the steps ---------------------------------------------------------

static int mkdir_all(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return errno = ENAMETOOLONG, set_errno(NULL);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char c = *p;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return set_errno(NULL);
		*p = c;
		if (!c)
			return 0;
	}
}

static int remount_ro(const char *path)
{
	struct statfs st;
	if (statfs(path, &st) < 0)
		return set_errno(NULL);
	// Keep what the mount's owner may have locked (see initproc's
	// remountReadOnly): ST_* and MS_* agree on these bits. (Not relatime:
	// ST_RELATIME is MS_BIND's bit; a remount keeps atime flags anyway.)
	unsigned long keep = st.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME);
	if (mount("", path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
		return set_errno(NULL);
	return 0;
}

static int loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_errno(NULL);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (rc < 0)
		set_errno(NULL);
	close(fd);
	return rc;
}

// contained refuses a path under root that passes through a symlink.
static int contained(const char *root, const struct op *o)
{
	size_t rl = strlen(root);
	if (strncmp(o->path, root, rl) != 0) {
		snprintf(err_text, sizeof err_text, "%s: %s is outside the sandbox's root %s", o->label, o->path, root);
		return -1;
	}
	char cur[4096];
	if (snprintf(cur, sizeof cur, "%s", o->path) >= (int)sizeof cur)
		return errno = ENAMETOOLONG, set_errno(NULL);
	for (char *p = cur + rl;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char c = *p;
		*p = 0;
		struct stat st;
		if (p > cur + rl) {
			if (lstat(cur, &st) == 0) {
				if (S_ISLNK(st.st_mode)) {
					snprintf(err_text, sizeof err_text, "%s: %s is a symlink inside the root filesystem; refusing to mount through it", o->label, cur + rl);
					return -1;
				}
			} else if (errno != ENOENT) {
				char prefix[256];
				snprintf(prefix, sizeof prefix, "%s: ", o->label);
				return set_errno(prefix);
			}
		}
		*p = c;
		if (!c)
			return 0;
	}
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return set_errno(NULL);
	close(fd);
	return 0;
}

static int drop_bounding(uint64_t keep, int last)
{
	for (int c = 0; c <= last && c < 64; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			char prefix[64];
			snprintf(prefix, sizeof prefix, "drop capability %d from the bounding set: ", c);
			return set_errno(prefix);
		}
	}
	return 0;
}

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)keep, (uint32_t)keep, (uint32_t)keep},
		{(uint32_t)(keep >> 32), (uint32_t)(keep >> 32), (uint32_t)(keep >> 32)},
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return set_errno(NULL);
	return 0;
}

// load_seccomp installs the plan's seccomp program, its last step (see
// initproc's seccompOp). This process has one thread, so it needs no
// SECCOMP_FILTER_FLAG_TSYNC; the command and, after a hand-over, the Go
// init inherit the filter.
static int load_seccomp(const struct op *o)
{
	struct sock_fprog prog = {.len = o->nfilter, .filter = o->filter};
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)o->flags, &prog) < 0 ? set_errno(NULL) : 0;
}

// call is one plain system call of the plan (initproc's step).
static int call(const struct op *o)
{
	switch (o->kind) {
	case OP_HOSTNAME:
		return sethostname(o->data, strlen(o->data)) < 0 ? set_errno(NULL) : 0;
	case OP_LOOPBACK:
		return loopback_up();
	case OP_MOUNT:
	case OP_MOVE_MOUNT:
		if (o->mkdir && mkdir_all(o->path, o->mkdir) < 0)
			return -1;
		if (o->touch && touch(o->path) < 0)
			return -1;
		if (o->kind == OP_MOVE_MOUNT)
			return syscall(SYS_move_mount, o->fd, "", AT_FDCWD, o->path, MOVE_MOUNT_F_EMPTY_PATH) < 0 ? set_errno(NULL) : 0;
		return mount(*o->source ? o->source : "", o->path, *o->fstype ? o->fstype : NULL, o->flags, *o->data ? o->data : NULL) < 0 ? set_errno(NULL) : 0;
	case OP_REMOUNT_RO:
		return remount_ro(o->path);
	case OP_CHDIR:
		if (o->mkdir && mkdir_all(o->path, o->mkdir) < 0)
			return -1;
		return chdir(o->path) < 0 ? set_errno(NULL) : 0;
	case OP_CHROOT:
		if (chroot(".") < 0)
			return set_errno(NULL);
		return chdir("/") < 0 ? set_errno(NULL) : 0;
	case OP_PIVOT:
		return syscall(SYS_pivot_root, ".", ".") < 0 ? set_errno(NULL) : 0;
	case OP_UMOUNT:
		return umount2(o->path, o->flags) < 0 ? set_errno(NULL) : 0;
	case OP_UNSHARE:
		return unshare(o->flags) < 0 ? set_errno(NULL) : 0;
	case OP_BOUNDING:
		return drop_bounding(o->keep | 1ULL << GUARD_CAP, o->last);
	case OP_CAPSET:
		command_caps = o->keep;
		return set_caps(o->keep | 1ULL << GUARD_CAP);
	case OP_NO_NEW_PRIVS:
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? set_errno(NULL) : 0;
	case OP_SECCOMP:
		return load_seccomp(o);
	}
	snprintf(err_text, sizeof err_text, "step %u is unknown to the native init: rebuild kcna-lab and kcna-lab-init together (`make build`)", o->kind);
	return -1;
}

// step runs fn as event part of step i, o: the call, then its report.
static int step(uint32_t i, int part, const struct op *o, int (*fn)(const struct op *))
{
	long long t = now_ns();
	int rc = fn(o);
	report(rc < 0 ? err_text : NULL, REPORT_STEP, (long long)i, (long long)part, now_ns() - t);
	return rc;
}

static int mask_dir(const struct op *o)
{
	return mount("tmpfs", o->path, "tmpfs", MS_RDONLY, "size=0") < 0 ? set_errno(NULL) : 0;
}

static int mask_file(const struct op *o)
{
	return mount("/dev/null", o->path, NULL, MS_BIND, NULL) < 0 ? set_errno(NULL) : 0;
}

static int bind_readonly(const struct op *o)
{
	if (mount(o->path, o->path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return set_errno(NULL);
	return remount_ro(o->path);
}

static int unshare_time(const struct op *o)
{
	(void)o;
	return unshare(CLONE_NEWTIME) < 0 ? set_errno(NULL) : 0;
}

// write_offsets sets the new namespace's clocks back by the offsets the
// parent read (initproc's timeNSOp), in timens_offsets' own format.
static int write_offsets(const struct op *o)
{
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return set_errno(NULL);
	ssize_t n = (ssize_t)strlen(o->data), w = write(fd, o->data, n);
	if (w >= 0 && w != n)
		errno = EIO;
	int rc = w == n ? 0 : set_errno(NULL);
	close(fd);
	return rc;
}

// join_time moves PID 1 itself into the time namespace it made, which
// unshare leaves for its children alone. Before Linux 6.2 the kernel
// refuses clone(CLONE_VM) (start, and the Go runtime's threads after
// resume) to a process whose time namespace differs from its children's;
// setns wants a single-threaded caller, as this one still is.
static int join_time(const struct op *o)
{
	(void)o;
	int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_errno(NULL);
	int rc = setns(fd, CLONE_NEWTIME) < 0 ? set_errno(NULL) : 0;
	close(fd);
	return rc;
}

// time_ns makes the sandbox's time namespace, with its clocks set back so
// that uptime inside starts near zero (initproc's newTimeNamespace), and
// joins it.
static int time_ns(uint32_t i, const struct op *o)
{
	if (step(i, PART_MAIN, o, unshare_time) < 0 || step(i, PART_ALT, o, write_offsets) < 0)
		return -1;
	return step(i, PART_JOIN, o, join_time);
}

static void run_plan(struct plan *p)
{
	for (uint32_t i = 0; i < p->nops; i++) {
		const struct op *o = &p->ops[i];
		struct stat st;
		int rc = 0;
		if (o->contained && contained(p->root, o) < 0)
			fail(EXIT_FAILED);
		switch (o->kind) {
		case OP_NARRATE:
			report(NULL, REPORT_NARRATE, (long long)i);
			break;
		case OP_IF_FILE:
			if (lstat(o->path, &st) < 0 || !S_ISREG(st.st_mode)) {
				report(NULL, REPORT_NARRATE, (long long)i);
				i += o->skip;
			}
			break;
		case OP_SYMLINK:
			if (symlink(o->source, o->path) < 0) {
				char prefix[256];
				snprintf(prefix, sizeof prefix, "symlink %s: ", o->label);
				set_errno(prefix);
				rc = -1;
			}
			break;
		case OP_MASK:
			if (stat(o->path, &st) < 0)
				break; // not on this kernel, or /sys not mounted
			rc = S_ISDIR(st.st_mode) ? step(i, PART_MAIN, o, mask_dir) : step(i, PART_ALT, o, mask_file);
			break;
		case OP_READONLY:
			if (stat(o->path, &st) == 0)
				rc = step(i, PART_MAIN, o, bind_readonly);
			break;
		case OP_TIME_NS:
			rc = time_ns(i, o);
			break;
		default:
			rc = step(i, PART_MAIN, o, call);
		}
		if (rc < 0)
			fail(EXIT_FAILED);
	}
}

// ---- PID 1 -------------------------------------------------------------

// look_path finds the command in the sandbox's PATH (initproc's lookPath).
static const char *look_path(struct plan *p)
{
	const char *name = p->args[0];
	if (strchr(name, '/'))
		return name;
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char **e = p->env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	static char full[4096];
	for (const char *dir = path; *path;) {
		const char *end = strchrnul(dir, ':');
		int len = (int)(end - dir);
		struct stat st;
		// An empty entry is the current directory, as for Go's lookPath;
		// a candidate too long to hold is skipped, not cut short.
		int n = snprintf(full, sizeof full, "%.*s%s", len ? len : 1, len ? dir : ".", "/");
		if (n < (int)sizeof full && snprintf(full + n, sizeof full - n, "%s", name) < (int)(sizeof full - n) &&
		    stat(full, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return full;
		if (!*end)
			break;
		dir = end + 1;
	}
	snprintf(err_text, sizeof err_text, "%s: command not found in the sandbox (PATH=%s)", name, path);
	return NULL;
}

// reap collects every exited child (orphans in the sandbox are
// re-parented to PID 1) and ends this process with the command's status
// once the command is among them.
static void reap(pid_t cmd)
{
	int status;
	pid_t w;
	while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
		if (w != cmd)
			continue;
		if (WIFSIGNALED(status)) {
			result(128 + WTERMSIG(status), WTERMSIG(status));
			_exit(128 + WTERMSIG(status));
		}
		result(WEXITSTATUS(status), 0);
		_exit(WEXITSTATUS(status));
	}
}

// result reports how the command ended: the parent names the signal.
static void result(int code, int sig)
{
	report(NULL, REPORT_EXIT, (long long)code, (long long)sig);
	ev_flush();
}

// The signals PID 1 passes on to the command, and SIGCHLD, which it reaps
// on; all are read from a signalfd.
static const int watched[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// forward passes on the signals waiting in sfd; it reaps on SIGCHLD, and
// with reap_too 0 leaves that to the Go init.
static void forward(int sfd, pid_t pid, int reap_too)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo != SIGCHLD)
			kill(pid, si.ssi_signo);
		else if (reap_too)
			reap(pid);
	}
}

// resume hands the running sandbox to the Go init, which serves `exec`:
// this process executes kcna-lab-init again, as "resume PID", keeping
// its PID, its children and the three descriptors. Returns only if that
// failed, with the signals as they were.
static void resume(int self, pid_t pid, int sfd, const sigset_t *old)
{
	if (stash_config() < 0) {
		set_errno("hand the sandbox to the Go init for `exec`: keep the config: ");
		report(err_text, REPORT_SAY);
		ev_flush();
		return;
	}
	char pidstr[16];
	snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
	for (int fd = FD_CONFIG; fd <= FD_EXEC; fd++)
		fcntl(fd, F_SETFD, 0);
	// The Go init cannot undo a blocked mask for the processes it starts,
	// so the signals are unblocked, ignored until it handles them: a
	// default action would end PID 1, and with it the sandbox. What came
	// meanwhile is passed on first; SIGCHLD the Go init's first reap
	// makes up for.
	// watched[0] is SIGCHLD, never ignored: that would reap the command.
	struct sigaction ign = {.sa_handler = SIG_IGN}, was[sizeof watched / sizeof *watched];
	for (size_t i = 1; i < sizeof watched / sizeof *watched; i++)
		sigaction(watched[i], &ign, &was[i]);
	forward(sfd, pid, 0);
	sigprocmask(SIG_SETMASK, old, NULL);
	char *argv[] = {INIT_ARG0, RESUME_ARG, pidstr, NULL};
	syscall(SYS_execveat, self, "", argv, environ, AT_EMPTY_PATH);
	set_errno("hand the sandbox to the Go init for `exec`: ");
	report(err_text, REPORT_SAY);
	ev_flush();
	sigset_t watch;
	sigemptyset(&watch);
	for (size_t i = 0; i < sizeof watched / sizeof *watched; i++)
		sigaddset(&watch, watched[i]);
	sigprocmask(SIG_BLOCK, &watch, NULL);
	for (size_t i = 1; i < sizeof watched / sizeof *watched; i++)
		sigaction(watched[i], &was[i], NULL);
	for (int fd = FD_CONFIG; fd <= FD_EXEC; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// cloexec_from marks every descriptor from first on close-on-exec: at
// once with close_range (Linux 5.11), else one by one as /proc lists
// them, as the Go init does. Nothing inherited may reach the command.
static int cloexec_from(int first)
{
	if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return set_errno("list /proc/self/fd: ");
	char buf[4096];
	long n;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			int fd = atoi(d->name);
			if (fd >= first && fd != dfd && d->name[0] != '.')
				fcntl(fd, F_SETFD, FD_CLOEXEC);
			off += d->reclen;
		}
	}
	close(dfd);
	return n < 0 ? set_errno("list /proc/self/fd: ") : 0;
}

// spawn is what the command's process does before it is the command:
// drop PID 1's guard capability (no_new_privs keeps execve from granting
// it back), put every signal back to its default and unblocked, execute.
struct spawn {
	const char *path;
	struct plan *p;
	const sigset_t *old;
	int err; // written by the child when it fails
};

static int spawn_child(void *arg)
{
	struct spawn *sp = arg;
	prctl(PR_CAPBSET_DROP, GUARD_CAP, 0, 0, 0);
	if (set_caps(command_caps) < 0) {
		sp->err = errno;
		_exit(126);
	}
	// The kernel's rt_sigaction itself: the C library's refuses its own
	// signals (32 and 33), which may come in ignored like any other.
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} dfl = {SIG_DFL, 0, NULL, 0};
	for (int sig = 1; sig <= 64; sig++)
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask); // EINVAL for KILL and STOP
	sigprocmask(SIG_SETMASK, sp->old, NULL);
	execve(sp->path, sp->p->args, sp->p->env);
	sp->err = errno;
	_exit(127);
}

// start starts the command as Go's ForkExec does: clone with CLONE_VM
// and CLONE_VFORK, so that nothing is copied and this process resumes
// once the child has executed the command or failed to, which it then
// reports in sp.err. The child runs on a stack of its own.
static pid_t start(const char *path, struct plan *p, const sigset_t *old)
{
	static char stack[64 << 10] __attribute__((aligned(16)));
	struct spawn sp = {path, p, old, 0};
	pid_t pid = clone(spawn_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
	if (pid < 0)
		return set_errno(NULL);
	if (sp.err) {
		waitpid(pid, NULL, 0);
		errno = sp.err;
		return -1;
	}
	return pid;
}

static _Noreturn void run(struct plan *p)
{
	// As the Go init does: nothing inherited leaks into the sandbox's
	// processes.
	if (cloexec_from(FD_CONFIG) < 0)
		fail(EXIT_FAILED);
	// Kept to execute this program again for resume: O_PATH, which needs
	// no right to read it, and above the protocol's descriptors, which
	// resume hands on.
	int self = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (self >= 0 && self <= FD_EXEC) {
		int high = fcntl(self, F_DUPFD_CLOEXEC, FD_EXEC + 1);
		close(self);
		self = high;
	}
	if (self < 0)
		close(FD_EXEC); // no Go init to hand `exec` to: refuse it
	run_plan(p);
	report(NULL, REPORT_READY);
	ev_flush();

	const char *path = look_path(p);
	if (!path)
		fail(127);
	sigset_t watch, old;
	sigemptyset(&watch);
	for (size_t i = 0; i < sizeof watched / sizeof *watched; i++)
		sigaddset(&watch, watched[i]);
	sigprocmask(SIG_BLOCK, &watch, &old);
	int sfd = signalfd(-1, &watch, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		set_errno("signalfd: ");
		fail(EXIT_FAILED);
	}
	pid_t pid = start(path, p, &old);
	if (pid < 0) {
		int e = errno;
		char prefix[512];
		snprintf(prefix, sizeof prefix, "start %s: ", p->args[0]);
		errno = e;
		set_errno(prefix);
		fail(e == ENOENT ? 127 : 126);
	}

	for (;;) {
		struct pollfd fds[2] = {{sfd, POLLIN, 0}, {FD_EXEC, POLLIN, 0}};
		if (poll(fds, self >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			set_errno("poll: ");
			fail(EXIT_FAILED);
		}
		if (self >= 0 && fds[1].revents) {
			resume(self, pid, sfd, &old);
			// Still here: exec requests are refused from now on rather
			// than left unanswered.
			close(FD_EXEC);
			self = -1;
			reap(pid); // a SIGCHLD meanwhile was not queued
		}
		forward(sfd, pid, 1);
	}
}
