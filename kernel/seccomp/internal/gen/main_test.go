package main

import (
	"bytes"
	"os"
	"testing"
)

// TestTablesAreCurrent: the tables in the tree are what go-seccomp-bpf's
// version in go.mod says, so a module update cannot leave them behind.
func TestTablesAreCurrent(t *testing.T) {
	const path = "../../zsyscalls.go"
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := source()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("%s is stale: run go generate ./kernel/seccomp/ and commit it", path)
	}
}
