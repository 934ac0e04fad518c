//go:build !(linux && cgo)

package native

// Enabled reports whether this build has the native init: it needs cgo.
const Enabled = false
