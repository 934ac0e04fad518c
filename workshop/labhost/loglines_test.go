package labhost

import (
	"strings"
	"testing"
)

// TestLabStderrReachesTheLogAsText: a lab's init may be the student's to
// control, so its stderr must not carry terminal escapes into the
// instructor's terminal, nor unbounded lines.
func TestLabStderrReachesTheLogAsText(t *testing.T) {
	var log strings.Builder
	w := &logLines{name: "alice", log: &log}
	_, _ = w.Write([]byte("boom\x1b]2;pwned\x07\x1b[2J done\npartial"))
	_, _ = w.Write([]byte(" line\n" + strings.Repeat("x", 2000) + "\n"))
	got := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(got) != 3 || got[0] != "alice's lab: boom]2;pwned[2J done" || got[1] != "alice's lab: partial line" {
		t.Fatalf("log lines = %q", got)
	}
	if strings.ContainsAny(log.String(), "\x1b\x07") || len(got[2]) != len("alice's lab: ")+512 {
		t.Errorf("escapes kept or a long line not cut: %q", got[2][:40])
	}
}
