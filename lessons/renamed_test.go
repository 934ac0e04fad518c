package lessons

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRenamedQuestionsKeepTheirAnswers: a progress file written when the
// /proc/keys question was security/masked-kcore loads with its answer,
// and its exam answer, under masked-proc-keys; an answer to a question
// that was replaced (cgroups/oom-137) does not become the new question's.
func TestRenamedQuestionsKeepTheirAnswers(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "progress.json"), UID: -1, GID: -1}
	old := `{"version":1,"lessons":{
	  "security":{"answers":{"masked-kcore":{"picked":[0],"correct":true,"at":"2026-11-30T10:00:00Z"}}},
	  "cgroups":{"answers":{"oom-137":{"picked":[0],"correct":true,"at":"2026-11-30T10:00:00Z"}}}},
	 "exams":[{"at":"2026-11-30T11:00:00Z","score":1,"total":1,"seconds":60,"passed":true,"seed":7,
	  "questions":[{"id":"security/masked-kcore","domain":"container-orchestration","given":[0],"correct":[0],"right":true}]}]}`
	if err := os.WriteFile(s.Path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	p, notice, err := s.Load()
	if err != nil || notice != "" {
		t.Fatalf("load: %v %q", err, notice)
	}
	sec := p.Lessons["security"]
	if a, ok := sec.Answers["masked-proc-keys"]; !ok || !a.Correct {
		t.Errorf("the answer to masked-kcore should be masked-proc-keys': %+v", sec.Answers)
	}
	if _, ok := sec.Answers["masked-kcore"]; ok {
		t.Error("the old id should be gone")
	}
	if _, ok := p.Lessons["cgroups"].Answers["oom-in-cgroup"]; ok {
		t.Error("oom-137 was replaced by a different question; its answer must not carry over")
	}
	if id := p.Exams[0].Questions[0].ID; id != "security/masked-proc-keys" {
		t.Errorf("the exam answer still names %s", id)
	}
}
