package lessons

import "strings"

// renamedQuestions maps a question's old key ("lesson/question") to its
// new one, for questions renamed while still asking the same thing with
// the same choices, so that a learner's stored answer still counts.
// A question replaced by a different one (other choices, another answer)
// is not listed: an old answer's picks would mean nothing against it.
//
// security/masked-kcore asked about /proc/keys, as masked-proc-keys does,
// word for word. Not listed, because the question changed with the name:
// cgroups/oom-137 (now oom-in-cgroup, choose two), storage/
// restart-loses-layer (now stop-start-keeps-layer, about docker stop and
// rm), troubleshooting/pending-causes (now pending-phase, other choices).
var renamedQuestions = map[string]string{
	"security/masked-kcore": "security/masked-proc-keys",
}

// migrate moves what progress holds under a renamed question's old id to
// its new one: the answer, the Leitner box and the exam answers. Where
// both ids hold an answer (a newer kcna-lab answered it, then an older one
// wrote the old id back), the later one is kept.
func (p *Progress) migrate() {
	for from, to := range renamedQuestions {
		lessonID, oldID, _ := strings.Cut(from, "/")
		_, newID, _ := strings.Cut(to, "/")
		if lp := p.Lessons[lessonID]; lp != nil {
			lp.rename(oldID, newID)
		}
		for i := range p.Exams {
			for j := range p.Exams[i].Questions {
				if p.Exams[i].Questions[j].ID == from {
					p.Exams[i].Questions[j].ID = to
				}
			}
		}
	}
}

func (l *LessonProgress) rename(oldID, newID string) {
	if a, ok := l.Answers[oldID]; ok {
		if mine, ok := l.Answers[newID]; !ok || a.At.After(mine.At) {
			l.Answers[newID] = a
		}
		delete(l.Answers, oldID)
	}
	if b, ok := l.Boxes[oldID]; ok {
		if mine, ok := l.Boxes[newID]; !ok || b.At.After(mine.At) {
			l.Boxes[newID] = b
		}
		delete(l.Boxes, oldID)
	}
}
