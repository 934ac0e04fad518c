// Package roster is a workshop class as data, for the instructor's
// dashboard (issue "The instructor's dashboard"; it serves no lesson but
// watches them all): a live model of every student, built from the
// progress and activity files their courses write (lessons.Store,
// lessons.Activity), the sessions the server tells it of, and what the
// kernel reports of their labs.
//
// Changes arrive as events: inotify on each student's progress directory,
// calls from the server. Subscribers are told that something changed,
// coalesced, never once per file write: a class of thirty all answering
// at once costs the dashboard one redraw.
//
// The package is Linux only, as the workshop server is: it watches with
// inotify and reads what students wrote with openat2 (labhost).
package roster
