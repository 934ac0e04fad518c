package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigCourse has perDomain questions tagged with each given domain id; every
// third question has two right answers.
func bigCourse(perDomain map[string]int) *Course {
	c := &Course{}
	order := 0
	for _, id := range []string{"kubernetes-fundamentals", "container-orchestration",
		"cloud-native-architecture", "cloud-native-application-delivery"} {
		n := perDomain[id]
		if n == 0 {
			continue
		}
		order++
		l := &Lesson{ID: "l-" + id, Title: id, Order: order, Domain: id, File: fmt.Sprintf("%02d-%s.md", order, id)}
		for i := range n {
			q := Question{ID: fmt.Sprintf("q%d", i), LessonID: l.ID, Domain: id,
				Prompt:      fmt.Sprintf("Question %d of %s?", i, id),
				Choices:     []string{"right " + id, "wrong one", "also right", "wrong two"},
				Answers:     []int{0},
				Explanation: "It is right because it says so."}
			if i%3 == 0 {
				q.Answers = []int{0, 2}
			}
			l.Quiz = append(l.Quiz, q)
		}
		c.Lessons = append(c.Lessons, l)
	}
	return c
}

func countByDomain(e *Exam) map[string]int {
	out := map[string]int{}
	for _, it := range e.Items {
		out[it.Domain]++
	}
	return out
}

func TestBlueprintTable(t *testing.T) {
	total := 0
	ids := map[string]bool{}
	for _, d := range Blueprint {
		total += d.Weight
		if d.ID == "" || d.Name == "" || len(d.Topics) == 0 || ids[d.ID] {
			t.Errorf("domain %+v: needs a unique id, a name and topics", d)
		}
		ids[d.ID] = true
		if DomainName(d.ID) != d.Name {
			t.Errorf("DomainName(%q) = %q, want %q", d.ID, DomainName(d.ID), d.Name)
		}
	}
	if total != 100 {
		t.Errorf("weights add up to %d%%, want 100%%", total)
	}
	// The November 2025 curriculum: four domains, containerization under
	// Kubernetes Fundamentals and observability under architecture.
	want := map[string]int{"kubernetes-fundamentals": 44, "container-orchestration": 28,
		"cloud-native-application-delivery": 16, "cloud-native-architecture": 12}
	for _, d := range Blueprint {
		if want[d.ID] != d.Weight {
			t.Errorf("%s weighs %d%%, the curriculum says %d%%", d.ID, d.Weight, want[d.ID])
		}
	}
	if len(Blueprint) != len(want) {
		t.Errorf("%d domains, the curriculum has %d", len(Blueprint), len(want))
	}
	topicOf := func(topic string) string {
		for _, d := range Blueprint {
			if slices.Contains(d.Topics, topic) {
				return d.ID
			}
		}
		return ""
	}
	if topicOf("Containerization") != "kubernetes-fundamentals" || topicOf("Observability") != "cloud-native-architecture" {
		t.Errorf("containerization under %q, observability under %q", topicOf("Containerization"), topicOf("Observability"))
	}
	if DomainName("cloud-native-observability") != "" {
		t.Error("the 2021 observability domain is no longer a domain of its own")
	}
}

func TestExamWeightsRespectedOverALargeDraw(t *testing.T) {
	c := bigCourse(map[string]int{"kubernetes-fundamentals": 600, "container-orchestration": 600,
		"cloud-native-architecture": 600, "cloud-native-application-delivery": 600})
	for _, n := range []int{60, 1000} {
		e, err := NewExam(c, ExamOptions{Questions: n, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Items) != n {
			t.Fatalf("drew %d, want %d", len(e.Items), n)
		}
		got := countByDomain(e)
		for _, d := range Blueprint {
			want := float64(n*d.Weight) / 100
			if diff := float64(got[d.Name]) - want; diff > 1 || diff < -1 {
				t.Errorf("n=%d: %s has %d questions, want %.1f±1 (%d%%)", n, d.Name, got[d.Name], want, d.Weight)
			}
		}
	}
	// 60 questions split exactly as largest remainder gives: 26.4, 16.8, 9.6, 7.2.
	e, _ := NewExam(c, ExamOptions{Seed: 1})
	want := map[string]int{"Kubernetes Fundamentals": 26, "Container Orchestration": 17,
		"Cloud Native Application Delivery": 10, "Cloud Native Architecture": 7}
	if got := countByDomain(e); !reflect.DeepEqual(got, want) {
		t.Errorf("default exam by domain = %v, want %v", got, want)
	}
	if e.Caveat() != "" || !strings.HasPrefix(e.Name(), "Mock KCNA exam") {
		t.Errorf("a draw at the blueprint's weights: name %q, caveat %q", e.Name(), e.Caveat())
	}
	for _, r := range e.Plan {
		if r.Drawn != r.Share || r.InCourse != 600 {
			t.Errorf("plan row %+v: want drawn = share and 600 in the course", r)
		}
	}
}

func TestExamPlanNamesWhatIsMissing(t *testing.T) {
	// No architecture questions and too few for application delivery: the
	// exam says so, names itself for what it covers, and disclaims readiness.
	c := bigCourse(map[string]int{"kubernetes-fundamentals": 100, "container-orchestration": 100,
		"cloud-native-application-delivery": 4})
	e, err := NewExam(c, ExamOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]PlanRow{}
	for _, r := range e.Plan {
		rows[r.ID] = r
	}
	if r := rows["cloud-native-architecture"]; r.Share != 7 || r.Drawn != 0 || r.InCourse != 0 {
		t.Errorf("architecture row = %+v, want share 7, none drawn", r)
	}
	if r := rows["cloud-native-application-delivery"]; r.Share != 10 || r.Drawn != 4 || r.InCourse != 4 {
		t.Errorf("delivery row = %+v, want share 10, 4 drawn", r)
	}
	if got := countByDomain(e); got["Kubernetes Fundamentals"] != rows["kubernetes-fundamentals"].Drawn ||
		got["Container Orchestration"] != rows["container-orchestration"].Drawn {
		t.Errorf("drawn %v, plan %+v", got, e.Plan)
	}
	if strings.HasPrefix(e.Name(), "Mock KCNA exam") || !strings.Contains(e.Name(), "3 of 4 KCNA domains") {
		t.Errorf("name = %q", e.Name())
	}
	for _, want := range []string{"Untested here: Cloud Native Architecture (12%)",
		"Cloud Native Application Delivery (4 of the 10 its 16% asks for)", "not a signal of KCNA readiness"} {
		if !strings.Contains(e.Caveat(), want) {
			t.Errorf("caveat %q lacks %q", e.Caveat(), want)
		}
	}
	// PlanExam gives the same sizes without drawing; the table shows them.
	if p := PlanExam(c, 0); !reflect.DeepEqual(p, e.Plan) {
		t.Errorf("PlanExam = %+v, exam plan %+v", p, e.Plan)
	}
	table := strings.Join(PlanTable(e.Plan), "\n")
	for _, want := range []string{"Cloud Native Architecture             12%      0         7     0  short by 7",
		"Kubernetes Fundamentals               44%    100        26    34  +8 to fill", "total"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// A graded result of this exam carries the same disclaimer.
	r := e.Grade(nil, time.Now(), time.Now(), false)
	if got := ResultCaveat(r); got != e.Caveat() {
		t.Errorf("result caveat %q, exam caveat %q", got, e.Caveat())
	}
}

func TestExamEveryQuestionIsDrawnEvenly(t *testing.T) {
	// Within a domain every question has the same chance.
	c := bigCourse(map[string]int{"container-orchestration": 20})
	seen := map[string]int{}
	const rounds = 1000
	for seed := range int64(rounds) {
		e, _ := NewExam(c, ExamOptions{Questions: 5, Seed: seed})
		for _, it := range e.Items {
			seen[it.Q.Key()]++
		}
	}
	if len(seen) != 20 {
		t.Fatalf("only %d of 20 questions ever drawn", len(seen))
	}
	for k, n := range seen {
		if want := rounds * 5 / 20; n < want*8/10 || n > want*12/10 {
			t.Errorf("%s drawn %d times, want about %d", k, n, want)
		}
	}
}

func TestExamRenormalisesOverDomainsWithQuestions(t *testing.T) {
	// A course covering two domains still gives a full exam, split 44:28.
	c := bigCourse(map[string]int{"kubernetes-fundamentals": 100, "container-orchestration": 100})
	e, _ := NewExam(c, ExamOptions{Seed: 3})
	got := countByDomain(e)
	if len(e.Items) != 60 || got["Kubernetes Fundamentals"] != 37 || got["Container Orchestration"] != 23 {
		t.Fatalf("two-domain exam = %d questions, %v; want 60 as 37+23", len(e.Items), got)
	}
	// A domain with too few questions gives all it has; the rest go to the others.
	c = bigCourse(map[string]int{"kubernetes-fundamentals": 100, "container-orchestration": 5, "cloud-native-application-delivery": 100})
	e, _ = NewExam(c, ExamOptions{Seed: 3})
	got = countByDomain(e)
	if len(e.Items) != 60 || got["Container Orchestration"] != 5 {
		t.Fatalf("scarce domain: %d questions, %v", len(e.Items), got)
	}
	if kf, ad := got["Kubernetes Fundamentals"], got["Cloud Native Application Delivery"]; kf+ad != 55 || kf < 2*ad {
		t.Fatalf("the excess was not shared by weight: %v", got)
	}
	// A single-domain course, smaller than an exam: every question, once.
	c = bigCourse(map[string]int{"container-orchestration": 14})
	e, _ = NewExam(c, ExamOptions{Seed: 3})
	if len(e.Items) != 14 || e.Duration != 14*90*time.Second {
		t.Fatalf("small course: %d questions in %v, want 14 in 21m", len(e.Items), e.Duration)
	}
	if _, err := NewExam(&Course{}, ExamOptions{}); !errors.Is(err, ErrNoQuestions) {
		t.Fatalf("empty course: err = %v", err)
	}
}

func TestExamIsDeterministicAndHasNoDuplicates(t *testing.T) {
	c := bigCourse(map[string]int{"kubernetes-fundamentals": 50, "container-orchestration": 50, "cloud-native-architecture": 50})
	keys := func(e *Exam) []string {
		var out []string
		for _, it := range e.Items {
			out = append(out, fmt.Sprint(it.Q.Key(), it.Order))
		}
		return out
	}
	a, _ := NewExam(c, ExamOptions{Seed: 42})
	b, _ := NewExam(c, ExamOptions{Seed: 42})
	if !slices.Equal(keys(a), keys(b)) {
		t.Fatal("the same seed drew different exams")
	}
	d, _ := NewExam(c, ExamOptions{Seed: 43})
	if slices.Equal(keys(a), keys(d)) {
		t.Fatal("different seeds drew the same exam")
	}
	for seed := range int64(100) {
		e, _ := NewExam(c, ExamOptions{Seed: seed})
		seen := map[string]bool{}
		for _, it := range e.Items {
			if seen[it.Q.Key()] {
				t.Fatalf("seed %d: %s drawn twice", seed, it.Q.Key())
			}
			seen[it.Q.Key()] = true
		}
	}
	// The same question object in two lessons' lists is still drawn once.
	c = bigCourse(map[string]int{"container-orchestration": 3})
	c.Lessons = append(c.Lessons, c.Lessons[0])
	e, _ := NewExam(c, ExamOptions{Seed: 1})
	if len(e.Items) != 3 {
		t.Fatalf("duplicate lesson: %d items, want 3", len(e.Items))
	}
}

func TestExamChoiceShufflingKeepsAnswersRight(t *testing.T) {
	c := bigCourse(map[string]int{"kubernetes-fundamentals": 30, "container-orchestration": 30})
	shuffled := 0
	for seed := range int64(30) {
		e, _ := NewExam(c, ExamOptions{Seed: seed})
		for _, it := range e.Items {
			if !slices.Equal(it.Order, identity(4)) {
				shuffled++
			}
			shown := it.Choices()
			ans := it.Answers()
			if !it.Correct(ans) {
				t.Fatalf("%s: the shown answer %v is scored wrong (order %v)", it.Q.Key(), ans, it.Order)
			}
			// The shown right choices are the lesson's right choices, by text.
			var want, got []string
			for _, a := range it.Q.Answers {
				want = append(want, it.Q.Choices[a])
			}
			for _, a := range ans {
				got = append(got, shown[a])
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Fatalf("%s: shown answers %v, lesson's %v", it.Q.Key(), got, want)
			}
			// Every other single choice is wrong.
			for i := range shown {
				if !slices.Contains(ans, i) && it.Correct([]int{i}) {
					t.Fatalf("%s: wrong choice %q scored right", it.Q.Key(), shown[i])
				}
			}
		}
	}
	if shuffled == 0 {
		t.Fatal("choices were never shuffled")
	}
	e, _ := NewExam(c, ExamOptions{Seed: 1, KeepChoiceOrder: true})
	for _, it := range e.Items {
		if !slices.Equal(it.Order, identity(4)) {
			t.Fatal("KeepChoiceOrder shuffled")
		}
	}
}

func TestChoicesThatDependOnOrderAreNotShuffled(t *testing.T) {
	for _, safe := range []Question{
		{Choices: []string{"pid", "net", "mnt"}, Explanation: "Each namespace isolates one thing; the pid namespace is the answer."},
		{Choices: []string{"Binding to ports below 1024", "Raw sockets"}, Explanation: "Ports below 1024 need another capability."},
		{Choices: []string{"nothing above / is left to climb to", "b-trees"}, Explanation: "x"},
	} {
		if !shuffleSafe(&safe) {
			t.Errorf("an ordinary question was kept in order: %q", safe.Choices)
		}
	}
	for _, q := range []Question{
		{Choices: []string{"pid", "net", "All of the above"}, Explanation: "x"},
		{Choices: []string{"pid", "net", "None of these"}, Explanation: "x"},
		{Choices: []string{"pid", "net", "Both of the above"}, Explanation: "x"},
		{Choices: []string{"pid", "net", "None of the others"}, Explanation: "x"},
		{Choices: []string{"pid", "net", "a and b"}, Explanation: "x"},
		{Choices: []string{"pid", "net", "mnt"}, Explanation: "Choice a is wrong because ..."},
		{Choices: []string{"pid", "net", "mnt"}, Explanation: "Not (b): the network is separate."},
		{Choices: []string{"pid", "net", "mnt"}, Explanation: "The second choice is right."},
		{Choices: []string{"pid", "net", "mnt"}, Explanation: "The first and the third are right."},
	} {
		if shuffleSafe(&q) {
			t.Errorf("shuffled although order matters: %q / %q", q.Choices, q.Explanation)
		}
	}
	// Such a question keeps its order in a drawn exam.
	c := bigCourse(map[string]int{"container-orchestration": 1})
	c.Lessons[0].Quiz[0].Choices[3] = "All of the above"
	for seed := range int64(20) {
		e, _ := NewExam(c, ExamOptions{Seed: seed})
		if !slices.Equal(e.Items[0].Order, identity(4)) {
			t.Fatal("an 'all of the above' question was shuffled")
		}
	}
}

func TestExamScoringIsAllOrNothing(t *testing.T) {
	c := bigCourse(map[string]int{"container-orchestration": 4})
	e, _ := NewExam(c, ExamOptions{Seed: 5, KeepChoiceOrder: true})
	single, multi := -1, -1
	for i, it := range e.Items {
		if it.Q.Multi() {
			multi = i
		} else {
			single = i
		}
	}
	if single < 0 || multi < 0 {
		t.Fatal("test course lacks a single or multi question")
	}
	s, m := e.Items[single], e.Items[multi]
	for _, tc := range []struct {
		it     ExamItem
		picked []int
		right  bool
	}{
		{s, []int{0}, true},
		{s, []int{1}, false},
		{s, []int{0, 1}, false},
		{s, nil, false},
		{m, []int{0, 2}, true},
		{m, []int{2, 0}, true},
		{m, []int{0}, false},       // half right is wrong
		{m, []int{0, 1, 2}, false}, // a wrong one added is wrong
		{m, []int{}, false},
	} {
		if got := tc.it.Correct(tc.picked); got != tc.right {
			t.Errorf("%s (answers %v) picked %v: right=%v, want %v", tc.it.Q.Key(), tc.it.Q.Answers, tc.picked, got, tc.right)
		}
	}

	// Grade: 3 of 4 right is 75%, a pass; unanswered counts as wrong.
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	picks := make([][]int, len(e.Items))
	for i, it := range e.Items {
		picks[i] = it.Answers()
	}
	picks[single] = nil
	r := e.Grade(picks, start, start.Add(90*time.Second), false)
	if r.Score != 3 || r.Total != 4 || !r.Passed || r.Percent() != 75 || r.Seconds != 90 || r.LimitSeconds != 360 {
		t.Fatalf("graded %+v", r)
	}
	if q := r.Questions[single]; q.Right || len(q.Given) != 0 || q.Given == nil {
		t.Fatalf("unanswered question recorded as %+v", q)
	}
	if len(r.Domains) != 1 || r.Domains[0] != (DomainScore{Domain: "Container Orchestration", Right: 3, Total: 4}) {
		t.Fatalf("domains %+v", r.Domains)
	}
	// 2 of 4 fails; a run past the deadline is capped at the limit.
	picks[multi] = []int{0}
	r = e.Grade(picks, start, start.Add(time.Hour), true)
	if r.Score != 2 || r.Passed || !r.TimedOut || r.Seconds != 360 {
		t.Fatalf("graded %+v", r)
	}
}

func TestExamResultReviewShowsWhatTheLearnerSaw(t *testing.T) {
	c := bigCourse(map[string]int{"container-orchestration": 6})
	e, _ := NewExam(c, ExamOptions{Seed: 9})
	picks := make([][]int, len(e.Items))
	picks[0] = e.Items[0].Answers()
	picks[1] = []int{(e.Items[1].Answers()[0] + 1) % 4}
	start := time.Now()
	r := e.Grade(picks, start, start.Add(time.Minute), false)
	rev := r.Review(c)
	if len(rev) != 6 {
		t.Fatalf("%d review items", len(rev))
	}
	for i, it := range rev {
		if it.Question != e.Items[i].Q || !slices.Equal(it.Choices, e.Items[i].Choices()) ||
			!slices.Equal(it.Correct, e.Items[i].Answers()) {
			t.Fatalf("item %d: %+v does not match the exam", i, it)
		}
	}
	if !slices.Equal(rev[0].Given, rev[0].Correct) || !rev[0].Answer.Right {
		t.Fatalf("right answer reviewed as %+v", rev[0])
	}
	if !slices.Equal(rev[1].Given, picks[1]) || rev[1].Answer.Right {
		t.Fatalf("wrong answer reviewed as %+v", rev[1])
	}
	// Through a save and a load, and with a question gone from the course.
	b, _ := json.Marshal(r)
	var back ExamResult
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	c.Lessons[0].Quiz = slices.DeleteFunc(c.Lessons[0].Quiz, func(q Question) bool { return q.Key() == r.Questions[1].ID })
	rev = back.Review(c)
	if rev[1].Question != nil || !slices.Equal(rev[1].Given, picks[1]) {
		t.Fatalf("missing question reviewed as %+v", rev[1])
	}
	if rev[0].Question == nil || !slices.Equal(rev[0].Given, rev[0].Correct) {
		t.Fatalf("after a round trip: %+v", rev[0])
	}
}

func TestExamHistoryIsBounded(t *testing.T) {
	p := NewProgress()
	if _, ok := p.LastExam(); ok {
		t.Fatal("a fresh record has an exam")
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxExamHistory + 5 {
		p.RecordExam(ExamResult{At: start.Add(time.Duration(i) * time.Hour), Score: i, Total: 60})
	}
	if len(p.Exams) != MaxExamHistory {
		t.Fatalf("%d exams kept, want %d", len(p.Exams), MaxExamHistory)
	}
	if last, _ := p.LastExam(); last.Score != MaxExamHistory+4 {
		t.Fatalf("last exam %+v", last)
	}
	if p.Exams[0].Score != 5 {
		t.Fatalf("oldest kept is %d, want 5: the oldest go first", p.Exams[0].Score)
	}
}

func TestExamResultsSaveAtomicallyAndCloneDeeply(t *testing.T) {
	c := bigCourse(map[string]int{"container-orchestration": 5, "kubernetes-fundamentals": 5})
	e, _ := NewExam(c, ExamOptions{Seed: 2})
	picks := make([][]int, len(e.Items))
	for i := range picks {
		picks[i] = []int{0}
	}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r := e.Grade(picks, start, start.Add(5*time.Minute), false)
	p := NewProgress()
	p.RecordExam(r)

	s := &Store{Path: filepath.Join(t.TempDir(), "progress.json"), UID: -1, GID: -1}
	if err := s.Save(NewProgress()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(s.Path)
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(s.Path)
	// Written to a new file and renamed over the old: never rewritten in place.
	if before.Sys().(*syscall.Stat_t).Ino == after.Sys().(*syscall.Stat_t).Ino {
		t.Error("progress was rewritten in place, not replaced atomically")
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	if len(entries) != 1 {
		t.Fatalf("files left next to progress: %v", entries)
	}
	got, notice, err := s.Load()
	if err != nil || notice != "" {
		t.Fatal(err, notice)
	}
	last, ok := got.LastExam()
	if !ok || !reflect.DeepEqual(last, p.Exams[0]) {
		t.Fatalf("exam changed on the way through the file:\n got %+v\nwant %+v", last, p.Exams[0])
	}

	// A snapshot (what the TUI saves in the background) shares nothing.
	snap := p.Clone()
	snap.Exams[0].Questions[0].Given[0] = 99
	snap.Exams[0].Domains[0].Right = 99
	if p.Exams[0].Questions[0].Given[0] == 99 || p.Exams[0].Domains[0].Right == 99 {
		t.Fatal("Clone shares exam results with the original")
	}
}

func TestClockText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0:00", -time.Second: "0:00", 59 * time.Second: "0:59", 90 * time.Minute: "90:00",
		89*time.Minute + 59*time.Second + 400*time.Millisecond: "89:59", 21 * time.Minute: "21:00",
	} {
		if got := ClockText(d); got != want {
			t.Errorf("ClockText(%v) = %q, want %q", d, got, want)
		}
	}
}
