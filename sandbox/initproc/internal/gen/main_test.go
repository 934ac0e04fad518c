//go:build linux

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// TestHeaderIsCurrent regenerates native/protocol.h and compares bytes:
// a constant changed in Go and not regenerated fails here, before a
// native init built from the old header misreads a plan.
func TestHeaderIsCurrent(t *testing.T) {
	const path = "../../native/protocol.h"
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := header(); !bytes.Equal(have, want) {
		t.Fatalf("%s is stale: run go generate ./sandbox/initproc/ and commit it\nhave:\n%s\nwant:\n%s", path, have, want)
	}
}

// TestEveryOpHasAName: a step appended without a name would reach the
// header as OP_OP22, and the parity test could not name it.
func TestEveryOpHasAName(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range initproc.OpKinds() {
		name := k.String()
		if strings.HasPrefix(name, "op") && strings.Trim(name[2:], "0123456789") == "" || seen[name] {
			t.Errorf("step %d has no name of its own (%q): add it to initproc's opNames", k, name)
		}
		seen[name] = true
	}
}
