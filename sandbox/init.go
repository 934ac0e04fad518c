package sandbox

import "github.com/kcna-lab/kcna-lab/sandbox/initproc"

// Init runs the hidden roles of a re-executed kcna-lab. Call it first in
// main, and in TestMain of any test that starts a sandbox (there
// /proc/self/exe is the test binary). If this process is a sandbox's init
// or the chroot-escape program, Init never returns; off Linux it does
// nothing. kcna-lab-init calls initproc.Main itself, so as not to link
// this package.
func Init() { initproc.Main() }
