package demos

import (
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/content"
)

// TestForkBombTextShowsWhatRuns pins the lesson's "Try it" to the command
// the demo really runs, so that the two cannot drift apart again.
func TestForkBombTextShowsWhatRuns(t *testing.T) {
	b, err := content.FS.ReadFile("05-cgroups.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "`"+forkBomb+"`") {
		t.Errorf("content/05-cgroups.md does not show the fork bomb the demo runs, %q", forkBomb)
	}
}
