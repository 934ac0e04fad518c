// Package lessons is the course model: it loads lessons from Markdown files
// with YAML front matter, validates them (every problem reported as
// file:line:column with a hint), and keeps a learner's progress on disk.
//
// It knows nothing of Bubble Tea. Live demos and challenge checks are
// registered in package lessons/demos and reach this package only through
// the Registry interface, which validation uses to reject ids that nothing
// implements.
package lessons
