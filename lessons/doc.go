// Package lessons is the course model: its lessons, questions,
// challenges and glossary, the exam drawn from them, and a learner's
// progress, kept on disk. Every lesson reaches the learner through it.
//
// It knows nothing of Bubble Tea, nor of the lesson files' format:
// package lessons/parse reads the Markdown and YAML front matter into
// this model (and caches the result), so that what only reads progress
// and the course's index (index.go) — the slim kcna-lab front's
// `lessons`, `progress` and `glossary` — links no YAML parser. Live demos
// and challenge checks are registered in package lessons/demos and reach
// this package only through the Registry interface, which validation
// uses to reject ids that nothing implements.
package lessons
