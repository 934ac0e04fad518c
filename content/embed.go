// Package content holds the built-in lessons: one Markdown file per lesson,
// named NN-slug.md, with YAML front matter. See README.md, "Writing lessons".
package content

import "embed"

// FS is the lesson files, embedded in the binary so kcna-lab runs offline.
//
//go:embed *.md glossary.yaml
var FS embed.FS
