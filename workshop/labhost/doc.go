// Package labhost gives each student on a workshop server a machine of
// their own: an outer sandbox, the student's "host", inside which every
// sandbox of theirs runs.
//
// The course teaches students to break out of jails (lesson 3 climbs out of
// a chroot onto "the host"). On a shared server that host must be the
// student's, never the server's. A lab is therefore built from the same
// kernel primitives the lessons show, one level up:
//
//   - a user namespace mapping a uid range no other student shares, in
//     which the student is root;
//   - mount, PID, network, IPC, UTS and cgroup namespaces of its own;
//   - a private root: the server's /usr and /etc read-only, a persistent
//     home, and fresh /tmp, /var and /run in memory;
//   - a cgroup carrying the student's quota, delegated to the lab on cgroup
//     v2 so that its sandboxes' cgroups nest below it (on a v1 host the
//     quota is enforced from outside and the lab has no cgroups to use).
//
// The lab's first process (Init, PID 1 inside) builds that root and then
// runs what the server asks of it over a socket: a student's course, a CLI
// command, with the SSH session's terminal passed in as file descriptors.
// When the lab stops, its namespaces go with their last process, and the
// server removes its cgroups; both are journaled so `kcna-lab clean` can
// sweep them after a crash.
package labhost
