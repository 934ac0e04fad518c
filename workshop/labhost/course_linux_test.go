package labhost

import (
	"os"
	"testing"
)

func TestExperimentCourseInLab(t *testing.T) {
	if os.Getenv("KL_EXPERIMENT") == "" {
		t.Skip("experiment")
	}
	bin, students := newClass(t)
	l := startLab(t, bin, students, "dave", 3)
	out, st := run(t, l, os.Getenv("KL_EXPERIMENT"))
	t.Logf("status %d\n%s", st, out)
}
