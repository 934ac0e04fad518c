#!/usr/bin/env bash
# make test-vm, the host side: resolve Debian kernels with apt-cache, fetch
# each once into a cache (apt-get download, dpkg-deb -x: never installed),
# build the test binaries (the VM has no go), pack an initramfs of static
# busybox, kcna-lab and the guest suite, boot one qemu VM per kernel in
# turn, and count what each reports. See e2e/vm/README.md.
#
# Run through `make test-vm`, which builds bin/ and sets KCNA_TEST_BINDIR.
# KERNELS="6.1.0-57 6.12.118+deb12"  kernels to boot (default: newest 6.1, 6.12)
# VM_TIMEOUT=1200 VM_MEM=1024 VM_SMP=2 VM_ACCEL=auto|kvm|tcg-single|tcg (tcg: a thread per vCPU)
# VM_ONLY=lab,demos,challenges,tests,workshop,cleanup,rootless  only these sections
# VM_CACHE=DIR  kernels (default /var/cache/kcna-lab-vm as root)
# VM_LOGS=DIR   keep each VM's console log there
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
GO=${GO:-go}
BINDIR=${KCNA_TEST_BINDIR:?run through make test-vm, which builds the programs into bin/}
FLAVOUR=${VM_FLAVOUR:-cloud-amd64}
TIMEOUT=${VM_TIMEOUT:-1200} MEM=${VM_MEM:-1024} SMP=${VM_SMP:-2} ACCEL=${VM_ACCEL:-auto}
if [ "$(id -u)" = 0 ]; then
	CACHE=${VM_CACHE:-/var/cache/kcna-lab-vm}
else
	CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kcna-lab-vm}
fi
# The packages whose tests run in the VM, each as DIR.test.
PACKAGES="sandbox kernel/cgroup plugin/network platform/orchestrator lessons/demos workshop workshop/labhost"
# Loaded at boot: the lessons need overlay, veth and bridge (stp, llc come
# with it); vishvananda/netlink opens the xfrm and nfnetlink families.
MODULES="overlay veth bridge xfrm_user nfnetlink"

W=$(mktemp -d "${TMPDIR:-/tmp}/kcna-lab-vm.XXXXXX")
QEMU=
cleanup() {
	[ -z "$QEMU" ] || kill "$QEMU" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
die() {
	say "test-vm: $*" >&2
	exit 1
}

need_qemu() {
	command -v qemu-system-x86_64 >/dev/null && return 0
	[ "$(id -u)" = 0 ] || die "qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (as root)"
	say "installing qemu-system-x86"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; }
}

# newest ERE: the newest package apt's lists hold whose name matches.
newest() {
	apt-cache search --names-only "$1" | awk '{ print $1 }' | sort -V | tail -n 1
}

# kernels: one ABI per line (6.1.0-57, 6.12.118+deb12), from $KERNELS or
# the newest of each series, so that no ABI that Debian retires is
# written down here.
kernels() {
	if [ -n "${KERNELS:-}" ]; then
		for k in $KERNELS; do
			k=${k#linux-image-} k=${k%-unsigned}
			say "${k%-"$FLAVOUR"}"
		done
		return
	fi
	for series in '6\.1\.0-[0-9]+' '6\.12\.[0-9]+\+deb12'; do
		p=$(newest "^linux-image-$series-$FLAVOUR-unsigned\$")
		[ -n "$p" ] || die "apt knows no linux-image-$series-$FLAVOUR-unsigned: run apt-get update, or name the kernels: make test-vm KERNELS='6.1.0-57 6.12.118+deb12'"
		p=${p#linux-image-}
		say "${p%-"$FLAVOUR"-unsigned}"
	done
}

# fetch KVER: the kernel's files, unpacked once into the cache.
fetch() {
	local k=$CACHE/$1 pkg=linux-image-$1-unsigned
	if [ ! -f "$k/boot/vmlinuz-$1" ]; then
		say "fetching $pkg into $CACHE"
		mkdir -p "$CACHE" "$W/dl"
		# As root apt would hand the download to its _apt user, which
		# cannot write into our private work dir.
		(cd "$W/dl" && apt-get -q -o APT::Sandbox::User="$(id -un)" download "$pkg" >/dev/null)
		rm -rf "$k.part"
		dpkg-deb -x "$W"/dl/"$pkg"_*.deb "$k.part"
		# Debian's postinst would run depmod; the guest's modprobe needs
		# modules.dep to find the modules' dependencies.
		"$BB" depmod -b "$k.part" "$1"
		mv "$k.part" "$k"
	fi
	touch "$k"
}

# prune: kernels not booted for 30 days go (Debian moves on).
prune() {
	[ -d "$CACHE" ] && find "$CACHE" -mindepth 1 -maxdepth 1 -mtime +30 -exec rm -rf {} + || true
}

# base: the initramfs every kernel shares: busybox, the programs, the test
# binaries, the guest's init and suite, a learner to run rootless as.
base() {
	local r=$W/root
	mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,run,root,home,var/tmp,var/cache,usr/local/bin,opt/kcna-vm/tests}
	chmod 1777 "$r/var/tmp" # as on Debian: the volume demos make their dirs there
	cp "$BB" "$r/bin/busybox"
	for a in $("$BB" --list-full); do
		[ -e "$r/$a" ] || { mkdir -p "$r/${a%/*}" && ln -s /bin/busybox "$r/$a"; }
	done
	for p in kcna-lab kcna-lab-full kcna-lab-init kcna-lab-init-go; do
		[ -x "$BINDIR/$p" ] || die "$BINDIR/$p is missing: make test-vm builds it"
		cp "$BINDIR/$p" "$r/usr/local/bin/"
	done
	say "building the test binaries (static: the guest has no C library and no go)"
	for p in $PACKAGES; do
		(cd "$SRC" && CGO_ENABLED=0 "$GO" test -c -trimpath -ldflags '-s -w' -o "$r/opt/kcna-vm/tests/${p##*/}.test" "./$p")
	done
	cp "$HERE/guest/init" "$r/init"
	cp "$HERE/guest/suite.sh" "$r/opt/kcna-vm/suite.sh"
	chmod 755 "$r/init" "$r/opt/kcna-vm/suite.sh"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'learner:x:1000:1000:learner:/home/learner:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
	printf '%s\n' 'root:x:0:' 'tty:x:5:' 'learner:x:1000:' 'nogroup:x:65534:' >"$r/etc/group"
	(cd "$r" && find . | "$BB" cpio -o -H newc 2>/dev/null) | gzip -1 >"$W/base.cpio.gz"
}

# initrd KVER: the shared part, then that kernel's modules (the kernel
# unpacks concatenated archives in turn).
initrd() {
	local m=$CACHE/$1/lib/modules/$1 r=$W/mods-$1 f
	for mod in $MODULES; do
		# The module's line in modules.dep names it and what it needs.
		for f in $(grep -E "(^|/)$mod\.ko(\.xz)?:" "$m/modules.dep" | tr -d ':'); do
			mkdir -p "$r/lib/modules/$1/${f%/*}"
			cp "$m/$f" "$r/lib/modules/$1/$f"
			case $f in *.xz) "$BB" unxz -f "$r/lib/modules/$1/$f" ;; esac
		done
	done
	"$BB" depmod -b "$r" "$1"
	(cd "$r" && find . | "$BB" cpio -o -H newc 2>/dev/null) | gzip -1 >"$W/mods-$1.cpio.gz"
	cat "$W/base.cpio.gz" "$W/mods-$1.cpio.gz" >"$W/initrd-$1"
}

accel() {
	if [ "$ACCEL" = auto ]; then
		# KVM only where the CPU has hardware virtualisation: some hosts
		# have a /dev/kvm that does not run ordinary guests.
		# Without it, TCG on one host thread: with a thread per vCPU
		# (thread=multi) the guest kernel's code patching races with the
		# other vCPU's stale translations, and about one boot in fifteen
		# dies of "Oops: int3" while the host is busy (CI saw it mid-suite
		# on 6.12). One thread costs speed, not truth.
		ACCEL=tcg-single
		[ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && ACCEL=kvm
	fi
	case $ACCEL in
	kvm) say "-accel kvm -cpu host" ;;
	tcg-single) say "-accel tcg,thread=single,tb-size=256 -cpu max" ;;
	*) say "-accel tcg,thread=multi,tb-size=256 -cpu max" ;;
	esac
}

# boot KVER: one VM, its console shown as it runs and kept in a log; a
# VM that outlives TIMEOUT is killed.
boot() {
	local log=$W/console-$1.log only=${VM_ONLY:+ kcna.only=$VM_ONLY}
	: >"$log.raw"
	# shellcheck disable=SC2046 # accel's words are options
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 $(accel) -m "$MEM" -smp "$SMP" \
		-nodefaults -no-reboot -display none -monitor none -nic none -serial "file:$log.raw" \
		-kernel "$CACHE/$1/boot/vmlinuz-$1" -initrd "$W/initrd-$1" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1$only ${VM_APPEND:-}" </dev/null &
	QEMU=$!
	# In the background too: bash runs a trap (ctrl-c, CI's TERM) only
	# once the foreground command ends, but interrupts a wait.
	tail -n +1 -f --pid="$QEMU" "$log.raw" | tr -d '\r' &
	local rc=0 show=$!
	wait "$QEMU" || rc=$?
	wait "$show" || true
	QEMU=
	tr -d '\r' <"$log.raw" >"$log"
	[ -z "${VM_LOGS:-}" ] || { mkdir -p "$VM_LOGS" && cp "$log" "$VM_LOGS/"; }
	return $rc
}

# tally KVER WALL RC: that VM's counts into the summary; a VM that did
# not finish is a failure of its own, whatever it reported before.
tally() {
	local log=$W/console-$1.log pass fail skip failed
	pass=$(grep -c '^RESULT pass ' "$log" || true)
	fail=$(grep -c '^RESULT fail ' "$log" || true)
	skip=$(grep -c '^RESULT skip ' "$log" || true)
	# The failures' names, grouped by section: "lab: run-hostname ...".
	failed=$(awk '/^RESULT fail / {
		i = index($3, "/"); g = substr($3, 1, i - 1)
		if (!(g in names)) order[++n] = g
		names[g] = names[g] " " substr($3, i + 1)
	} END { for (j = 1; j <= n; j++) printf "%s:%s\n", order[j], names[order[j]] }' "$log")
	# A kernel oops or BUG fails the run even if the suite went on.
	if grep -qE '^\[ *[0-9.]+\] (Oops|BUG|Kernel panic|WARNING: CPU)' "$log"; then
		fail=$((fail + 1))
		failed="$failed${failed:+$'\n'}vm: the kernel reported: $(grep -m1 -E '^\[ *[0-9.]+\] (Oops|BUG|Kernel panic|WARNING: CPU)' "$log")"
	fi
	if ! grep -q '^KCNA-VM-DONE' "$log"; then
		fail=$((fail + 1))
		if [ "$3" = 124 ] || [ "$3" = 137 ]; then
			failed="$failed${failed:+$'\n'}vm: did not finish: killed after ${TIMEOUT}s"
		else
			failed="$failed${failed:+$'\n'}vm: did not finish: qemu exit $3 (the console is above)"
		fi
	fi
	printf '%-30s %5ss %7d %7d %8d\n' "$1" "$2" "$pass" "$fail" "$skip" >>"$W/summary"
	[ -z "$failed" ] || say "$failed" | fold -s -w 96 | sed 's/^/    /' >>"$W/summary"
	TOTAL_PASS=$((TOTAL_PASS + pass)) TOTAL_FAIL=$((TOTAL_FAIL + fail)) TOTAL_SKIP=$((TOTAL_SKIP + skip))
}

main() {
	need_qemu
	BB=$(command -v busybox || true)
	[ -n "$BB" ] && ! grep -q '/lib64/ld-linux' "$BB" || die "no static busybox (Debian: busybox-static)"
	local list
	list=$(kernels) # a subshell: its die must stop us here
	mapfile -t abis <<<"$list"
	prune
	local started=$SECONDS
	base
	for abi in "${abis[@]}"; do
		fetch "$abi-$FLAVOUR"
		initrd "$abi-$FLAVOUR"
	done
	say "prepared in $((SECONDS - started))s; booting ${abis[*]} ($MEM MB, $SMP CPUs, $(accel | cut -d' ' -f2), ${TIMEOUT}s each at most)"
	TOTAL_PASS=0 TOTAL_FAIL=0 TOTAL_SKIP=0
	printf '%-30s %6s %7s %7s %8s\n' kernel wall passed failed skipped >"$W/summary"
	for abi in "${abis[@]}"; do
		local k=$abi-$FLAVOUR start=$SECONDS rc
		for try in 1 2; do
			say
			say "==== $k"
			rc=0
			boot "$k" || rc=$?
			grep -q '^kcna-vm: booted' "$W/console-$k.log" && break
			# A kernel that crashed before the suite began says nothing of
			# kcna-lab (a VM that starved on a busy host, say). Once more.
			[ "$try" = 2 ] || say "==== $k crashed before the suite started (above); booting it again"
		done
		tally "$k" $((SECONDS - start)) "$rc"
	done
	say
	say "==== make test-vm: $((SECONDS - started))s in all"
	cat "$W/summary"
	say "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
	[ "$TOTAL_FAIL" = 0 ]
}

main "$@"
