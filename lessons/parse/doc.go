// Package parse reads a course from its files — lessons in Markdown with
// YAML front matter, and glossary.yaml — into the model of package
// lessons, validates them (every problem reported as file:line:column
// with a hint, as `kcna-lab lint-content` prints them), and keeps the
// parsed course cached between runs (LoadCached) with the index the slim
// front reads. It serves every lesson, and the instructor who writes
// one; kcna-lab-full links it, the slim front does not.
package parse
