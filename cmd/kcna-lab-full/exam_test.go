package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// examLessons is a course of its own, so these tests do not change when
// the built-in lessons do. Its explanations never name choices by place, so
// the exam shuffles every question's choices.
const examLessons = `---
id: one
title: Lesson one
order: 1
domain: container-orchestration
objectives: [Learn]
quiz:
  - id: single
    prompt: Which tool builds a jail for one process tree?
    choices: [chroot, fdisk, mkfs]
    answer: a
    explanation: EXPLAIN-SINGLE chroot changes the root directory; the others work on disks.
  - id: multi
    prompt: Which two are Linux namespaces? Choose two.
    choices: [pid, disk, net]
    answer: [a, c]
    explanation: EXPLAIN-MULTI pid and net are namespaces; there is no disk namespace.
  - id: fund
    domain: kubernetes-fundamentals
    prompt: What assigns pods to nodes?
    choices: [kubelet, kube-scheduler, etcd, kube-proxy]
    answer: b
    explanation: EXPLAIN-FUND The scheduler places pods; the kubelet runs them.
---
body
`

// contentDir writes examLessons to a directory for --content.
func contentDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "01-one.md"), []byte(examLessons), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// kcnaIn runs the CLI in-process with stdin.
func kcnaIn(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, stdin, &out, &errb)
	return code, out.String(), errb.String()
}

func loadProgress(t *testing.T, state string) *lessons.Progress {
	t.Helper()
	s := &lessons.Store{Path: filepath.Join(state, "kcna-lab", "progress.json"), UID: -1, GID: -1}
	p, notice, err := s.Load()
	if err != nil || notice != "" {
		t.Fatalf("load progress: %v %s", err, notice)
	}
	return p
}

// fakeClock stands still unless moved; its deadline fires only on request.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	fire chan time.Time
}

func useFakeClock(t *testing.T) *fakeClock {
	c := &fakeClock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), fire: make(chan time.Time, 1)}
	old := clk
	clk = c
	t.Cleanup(func() { clk = old })
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(time.Duration) <-chan time.Time { return c.fire }

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// slowTyper gives one line per read and moves the clock on by step before
// each: a learner who takes step to answer.
type slowTyper struct {
	lines []string
	clock *fakeClock
	step  time.Duration
}

func (s *slowTyper) Read(p []byte) (int, error) {
	if len(s.lines) == 0 {
		return 0, io.EOF
	}
	s.clock.advance(s.step)
	n := copy(p, s.lines[0]+"\n")
	s.lines = s.lines[1:]
	return n, nil
}

// examFor draws the exam the CLI will draw for the same content and seed,
// so a test knows the right letters after shuffling.
func examFor(t *testing.T, dir string, questions int, seed int64) *lessons.Exam {
	t.Helper()
	c, probs := parse.LoadDir(dir, demos.Builtin())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	e, err := lessons.NewExam(c, lessons.ExamOptions{Questions: questions, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rightLetters(it lessons.ExamItem) string { return joinLetters(it.Answers(), ",") }

func wrongLetter(it lessons.ExamItem) string {
	for i := range it.Order {
		if !slices.Contains(it.Answers(), i) {
			return lessons.Letter(i)
		}
	}
	panic("no wrong choice")
}

func TestQuizRightWrongInvalidAndSaved(t *testing.T) {
	state := privateState(t)
	dir := contentDir(t)
	// single: "x" is no choice, then the right a; multi: one letter for a
	// choose-two question, then a wrong pair (a,b); fund: two letters for a
	// one-answer question, then the right b.
	code, out, errOut := kcnaIn(t, strings.NewReader("x\na\na\na,b\nb,c\nb\n"), "--content", dir, "quiz", "one")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Practice: Lesson one, 3 question(s)",
		"[1/3] Lesson one",
		`"x" is not a choice here: answer with a letter from a to c, like b.`,
		"Right.",
		"EXPLAIN-SINGLE",
		"(choose 2)",
		"This question asks for 2 answers, not 1: answer with 2 letters from a to c, like a,c.",
		"Not quite. The answer is a and c.",
		"EXPLAIN-MULTI",
		"This question has one answer",
		"You answered 2 of 3 right.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quiz output lacks %q:\n%s", want, out)
		}
	}
	// Piped answers are echoed after the prompt, so the transcript reads well.
	if !strings.Contains(out, "Answer: x\n") {
		t.Errorf("piped answer not echoed:\n%s", out)
	}
	p := loadProgress(t, state)
	got := p.Lessons["one"].Answers
	if !got["single"].Correct || got["multi"].Correct || !slices.Equal(got["multi"].Picked, []int{0, 1}) || !got["fund"].Correct {
		t.Fatalf("answers saved as %+v", got)
	}
}

func TestQuizEOFKeepsWhatWasAnswered(t *testing.T) {
	state := privateState(t)
	code, out, _ := kcnaIn(t, strings.NewReader("a\n"), "--content", contentDir(t), "quiz", "1")
	if code != 0 || !strings.Contains(out, "Stopped after 1 of 3 question(s), 1 right. Your answers are saved;") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if a := loadProgress(t, state).Lessons["one"].Answers; len(a) != 1 || !a["single"].Correct {
		t.Fatalf("saved %+v", a)
	}
	// No input at all is a clean stop too.
	code, out, _ = kcnaIn(t, strings.NewReader(""), "--content", contentDir(t), "quiz", "1")
	if code != 0 || !strings.Contains(out, "Stopped after 0 of 3") {
		t.Fatalf("empty input: exit %d:\n%s", code, out)
	}
}

func TestQuizUnwritableStateNeverSaysSaved(t *testing.T) {
	privateState(t)
	// Nothing can be created in /proc, by root either, whom permission
	// bits would not stop; reading finds no progress file, a fresh start.
	t.Setenv("XDG_STATE_HOME", "/proc/self")
	for _, in := range []string{"a\n", "a\na,c\nb\n"} { // stopped early, and to the end
		code, out, errOut := kcnaIn(t, strings.NewReader(in), "--content", contentDir(t), "quiz", "1")
		if code != 1 || strings.Contains(out, "are saved") || !strings.Contains(out, "Your answers were NOT saved: progress not saved:") ||
			!strings.Contains(errOut, "progress not saved") {
			t.Fatalf("input %q: exit %d\nstdout:\n%s\nstderr:\n%s", in, code, out, errOut)
		}
	}
}

func TestQuizWholeCourseIsShuffledRepeatably(t *testing.T) {
	privateState(t)
	dir := contentDir(t)
	_, a, _ := kcnaIn(t, strings.NewReader(""), "--content", dir, "quiz", "--count", "2", "--seed", "7")
	_, b, _ := kcnaIn(t, strings.NewReader(""), "--content", dir, "quiz", "--count", "2", "--seed", "7")
	if a != b || !strings.Contains(a, "Practice: the whole course, 2 question(s)") {
		t.Fatalf("same seed, different quiz:\n%s\n---\n%s", a, b)
	}
	code, _, errOut := kcnaIn(t, strings.NewReader(""), "--content", dir, "quiz", "nope")
	if code != 1 || !strings.Contains(strings.ToLower(errOut), `no lesson "nope"`) || !strings.Contains(errOut, "one") {
		t.Fatalf("unknown lesson: exit %d, %s", code, errOut)
	}
}

func TestExamRightWrongInvalidThenReview(t *testing.T) {
	state := privateState(t)
	useFakeClock(t)
	dir := contentDir(t)
	e := examFor(t, dir, 3, 11)
	in := strings.Join([]string{
		rightLetters(e.Items[0]),
		"z", // no such choice: asked again
		wrongLetter(e.Items[1]),
		rightLetters(e.Items[2]),
	}, "\n") + "\n"
	code, out, errOut := kcnaIn(t, strings.NewReader(in), "--content", dir, "exam", "--questions", "3", "--seed", "11")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"KCNA blueprint: CNCF KCNA curriculum, November 2025",
		"Cloud Native Application Delivery     16%      0         1     0  short by 1",
		"This exam: Course practice exam (2 of 4 KCNA domains, not the blueprint's mix).",
		"3 question(s), 4:30, pass mark 75%.",
		"--seed 11",
		"[1/3] 4:30 left",
		`"z" is not a choice here`,
		"Result: 2 of 3 right (66%): FAIL. The pass mark is 75%.",
		"By domain:",
		"not a signal of KCNA",
		"Review: your answer, the right one, and why.",
		"<- your answer, right answer",
		"<- right answer",
		"EXPLAIN-SINGLE", "EXPLAIN-MULTI", "EXPLAIN-FUND",
		"Saved to your progress.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exam output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	// No feedback during the exam, as on the real one.
	if strings.Contains(out, "Not quite") {
		t.Error("the exam gave feedback before the end")
	}
	r, ok := loadProgress(t, state).LastExam()
	if !ok || r.Score != 2 || r.Total != 3 || r.Passed || r.Seed != 11 || len(r.Questions) != 3 || len(r.Domains) != 2 {
		t.Fatalf("saved %+v", r)
	}
	if q := r.Questions[1]; q.Right || len(q.Given) != 1 || q.ID != e.Items[1].Q.Key() {
		t.Fatalf("wrong answer saved as %+v", q)
	}

	// --review shows the same review from progress; --json the record.
	code, rev, _ := kcnaIn(t, strings.NewReader(""), "--content", dir, "exam", "--review")
	if code != 0 || !strings.Contains(rev, "Result: 2 of 3 right") || !strings.Contains(rev, "EXPLAIN-FUND") ||
		!strings.Contains(rev, "WRONG") {
		t.Fatalf("--review: exit %d\n%s", code, rev)
	}
	code, js, _ := kcnaIn(t, strings.NewReader(""), "--content", dir, "exam", "--review", "--json")
	var got examJSON
	if err := json.Unmarshal([]byte(js), &got); err != nil || code != 0 {
		t.Fatalf("--review --json: exit %d, %v\n%s", code, err, js)
	}
	if got.Percent != 66 || got.Score != 2 || got.Questions[0].ID != e.Items[0].Q.Key() {
		t.Fatalf("--review --json = %+v", got)
	}
	// Two of four domains drawn: the record says the score is no KCNA signal.
	if !strings.Contains(got.Caveat, "not a signal of KCNA readiness") {
		t.Errorf("--review --json caveat = %q", got.Caveat)
	}
}

func TestExamJSONKeepsStdoutForTheResult(t *testing.T) {
	privateState(t)
	useFakeClock(t)
	dir := contentDir(t)
	e := examFor(t, dir, 3, 3)
	var in []string
	for _, it := range e.Items {
		in = append(in, rightLetters(it))
	}
	code, out, errOut := kcnaIn(t, strings.NewReader(strings.Join(in, "\n")+"\n"), "--content", dir, "exam", "--seed", "3", "--json")
	var r examJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("exit %d, stdout is not JSON (%v):\n%s", code, err, out)
	}
	if r.Score != 3 || !r.Passed || r.Percent != 100 || !strings.Contains(errOut, "[1/3]") {
		t.Fatalf("result %+v\nstderr:\n%s", r, errOut)
	}
}

func TestExamEOFAbandonsAndRecordsNothing(t *testing.T) {
	state := privateState(t)
	useFakeClock(t)
	dir := contentDir(t)
	e := examFor(t, dir, 3, 5)
	for _, c := range []struct{ name, in, said string }{
		// exam </dev/null: no answer at all.
		{"no input", "", "Input ended after 0 of 3 answer(s)"},
		// The first answered, the second skipped, then the input ends.
		{"input ends midway", rightLetters(e.Items[0]) + "\n\n", "Input ended after 1 of 3 answer(s)"},
	} {
		code, out, _ := kcnaIn(t, strings.NewReader(c.in), "--content", dir, "exam", "--seed", "5")
		if code != 1 || !strings.Contains(out, c.said) || !strings.Contains(out, "nothing was recorded") ||
			strings.Contains(out, "Result:") || strings.Contains(out, "Saved to your progress") {
			t.Fatalf("%s: exit %d:\n%s", c.name, code, out)
		}
		if _, err := os.Stat(filepath.Join(state, "kcna-lab", "progress.json")); err == nil {
			if r, ok := loadProgress(t, state).LastExam(); ok {
				t.Fatalf("%s: an abandoned exam was recorded: %+v", c.name, r)
			}
		}
	}
}

func TestExamSkippedQuestionsComeBack(t *testing.T) {
	privateState(t)
	useFakeClock(t)
	dir := contentDir(t)
	e := examFor(t, dir, 3, 8)
	in := []string{"", rightLetters(e.Items[1]), rightLetters(e.Items[2]), rightLetters(e.Items[0])}
	code, out, _ := kcnaIn(t, strings.NewReader(strings.Join(in, "\n")+"\n"), "--content", dir, "exam", "--seed", "8")
	if code != 0 || !strings.Contains(out, "You skipped 1 question(s); here they are again.") ||
		!strings.Contains(out, "Result: 3 of 3 right (100%): PASS.") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestExamRefusesAnAnswerAfterTheDeadline(t *testing.T) {
	state := privateState(t)
	c := useFakeClock(t)
	dir := contentDir(t)
	e := examFor(t, dir, 3, 4)
	// 2 minutes; each answer takes 70 seconds: the second comes too late.
	typer := &slowTyper{clock: c, step: 70 * time.Second,
		lines: []string{rightLetters(e.Items[0]), rightLetters(e.Items[1]), rightLetters(e.Items[2])}}
	code, out, _ := kcnaIn(t, typer, "--content", dir, "exam", "--seed", "4", "--minutes", "2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"[1/3] 2:00 left", "[2/3] 0:50 left", "came after the deadline and was not counted",
		"Time is up", "Result: 1 of 3 right", "Time: 2:00 of 2:00 (time ran out)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[3/3]") {
		t.Error("a question was asked after the deadline")
	}
	r, _ := loadProgress(t, state).LastExam()
	if !r.TimedOut || r.Score != 1 || r.Seconds != 120 || len(r.Questions[1].Given) != 0 {
		t.Fatalf("saved %+v", r)
	}
}

func TestExamDeadlineEndsAWaitForAnAnswer(t *testing.T) {
	state := privateState(t)
	c := useFakeClock(t)
	dir := contentDir(t)
	pr, pw := io.Pipe() // a learner who never answers
	defer pw.Close()
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"--content", dir, "exam", "--seed", "1"}, pr, out, io.Discard)
	}()
	out.waitFor(t, "[1/3]")
	c.advance(5 * time.Minute)
	c.fire <- c.Now()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "Time is up") || !strings.Contains(out.String(), "Result: 0 of 3 right") {
			t.Fatalf("exit %d:\n%s", code, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the exam kept waiting after its deadline")
	}
	if r, ok := loadProgress(t, state).LastExam(); !ok || !r.TimedOut {
		t.Fatalf("saved %+v", r)
	}
}

func TestExamBadFlagsAndNoHistory(t *testing.T) {
	privateState(t)
	dir := contentDir(t)
	for _, args := range [][]string{{"--count", "0"}, {"--minutes", "-1"}} {
		code, _, errOut := kcnaIn(t, strings.NewReader(""), append([]string{"--content", dir, "exam"}, args...)...)
		if code != 1 || !strings.Contains(errOut, args[0]) {
			t.Errorf("exam %v: exit %d, %s", args, code, errOut)
		}
	}
	code, _, errOut := kcnaIn(t, strings.NewReader(""), "--content", dir, "exam", "--review")
	if code != 1 || !strings.Contains(strings.ToLower(errOut), "no exam taken yet") {
		t.Fatalf("--review with no history: exit %d, %s", code, errOut)
	}
}

func TestQuizAndExamHelpTeach(t *testing.T) {
	_, quiz, _ := kcna(t, "quiz", "--help")
	_, exam, _ := kcna(t, "exam", "--help")
	for _, want := range []string{"a,c", "--count", "Ctrl+D", "kcna-lab quiz 3"} {
		if !strings.Contains(quiz, want) {
			t.Errorf("quiz --help lacks %q", want)
		}
	}
	for _, want := range []string{"60 questions in 90 minutes", "1.5 minutes per question", "75%", "Kubernetes Fundamentals",
		"--review", "--seed", "kcna-lab exam --count 10 --minutes 12"} {
		if !strings.Contains(exam, want) {
			t.Errorf("exam --help lacks %q", want)
		}
	}
	if _, root, _ := kcna(t, "--help"); !strings.Contains(root, "quiz") || !strings.Contains(root, "exam") {
		t.Error("--help does not list quiz and exam")
	}
}

func TestParseLetters(t *testing.T) {
	for _, tc := range []struct {
		in      string
		answers int
		want    []int
		problem string
	}{
		{"b", 1, []int{1}, ""},
		{" B ", 1, []int{1}, ""},
		{"a,c", 2, []int{0, 2}, ""},
		{"c, a", 2, []int{0, 2}, ""},
		{"a c a", 2, []int{0, 2}, ""},
		{"a,c", 1, nil, "one answer"},
		{"a", 2, nil, "asks for 2 answers, not 1"},
		{"a,b,c", 2, nil, "asks for 2 answers, not 3"},
		{"a,b", 3, nil, "like a,c,e"},
		{"e", 1, nil, `"e" is not a choice`},
		{"1", 1, nil, `"1" is not a choice`},
		{"", 1, nil, "No answer given"},
	} {
		got, problem := parseLetters(tc.in, 4, tc.answers)
		if !slices.Equal(got, tc.want) || (tc.problem == "") != (problem == "") || !strings.Contains(problem, tc.problem) {
			t.Errorf("parseLetters(%q, answers=%d) = %v, %q", tc.in, tc.answers, got, problem)
		}
	}
}

// syncBuffer is an output buffer the test can read while the CLI writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) waitFor(t *testing.T, text string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(5 * time.Millisecond) {
		if strings.Contains(s.String(), text) {
			return
		}
	}
	t.Fatalf("never saw %q in:\n%s", text, s.String())
}

func TestExamBlueprintShowsTheTableWithoutAnExam(t *testing.T) {
	dir := contentDir(t)
	code, out, errOut := kcnaIn(t, strings.NewReader(""), "--content", dir, "exam", "--blueprint", "--questions", "10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"KCNA blueprint: CNCF KCNA curriculum, November 2025",
		"KCNA domain                        weight course blueprint drawn",
		// 3 questions: the exam is as big as the course, the shares by weight.
		"Kubernetes Fundamentals               44%      1         1     1",
		"Cloud Native Architecture             12%      0         0     0",
		"This exam: Course practice exam (2 of 4 KCNA domains",
		"not a signal of KCNA",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--blueprint output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[1/") {
		t.Errorf("--blueprint started an exam:\n%s", out)
	}
}

func TestQuizMissedFollowsLeitnerBoxes(t *testing.T) {
	state := privateState(t)
	clock := useFakeClock(t)
	dir := contentDir(t)
	quiz := func(in string, args ...string) string {
		t.Helper()
		code, out, errOut := kcnaIn(t, strings.NewReader(in), append([]string{"--content", dir, "quiz"}, args...)...)
		if code != 0 {
			t.Fatalf("quiz %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	if out := quiz("", "--missed"); !strings.Contains(out, "You have missed no question yet") {
		t.Fatalf("nothing answered yet:\n%s", out)
	}
	// single right, multi and fund wrong: both go to box 1. (A choose-two
	// question takes two letters: a,b is a wrong answer, a alone none.)
	quiz("a\na,b\na\n", "one")
	out := quiz("a,c\na\n", "--missed")
	for _, want := range []string{"box 1: 2, box 2: 0", "Practice: missed questions due for review, 2 question(s)",
		"EXPLAIN-MULTI", "EXPLAIN-FUND", "You answered 1 of 2 right."} {
		if !strings.Contains(out, want) {
			t.Errorf("first review lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "EXPLAIN-SINGLE") {
		t.Errorf("a question never missed was asked:\n%s", out)
	}
	answers := loadProgress(t, state).Lessons["one"].Answers
	if answers["multi"].Box != 2 || answers["fund"].Box != 1 || answers["single"].Box != 0 {
		t.Fatalf("boxes after the review: %+v", answers)
	}
	// Right away, only fund (box 1) is due; multi waits a day in box 2.
	out = quiz("b\n", "--missed")
	if !strings.Contains(out, "1 question(s)") || !strings.Contains(out, "EXPLAIN-FUND") || strings.Contains(out, "EXPLAIN-MULTI") {
		t.Errorf("second review should ask fund only:\n%s", out)
	}
	if out := quiz("", "--missed"); !strings.Contains(out, "None is due now. The next, in box 2, is due") {
		t.Errorf("nothing due:\n%s", out)
	}
	// A day later both are due again; --count and a lesson narrow it.
	clock.advance(25 * time.Hour)
	if out := quiz("a,c\n", "--missed", "--count", "1", "one"); !strings.Contains(out, "1 question(s)") {
		t.Errorf("after a day, --count 1:\n%s", out)
	}
	if b := loadProgress(t, state).Lessons["one"].Answers["multi"].Box; b != 3 {
		t.Errorf("multi right twice after its miss: box %d, want 3", b)
	}
}

func TestGlossaryLooksTermsUp(t *testing.T) {
	privateState(t)
	code, out, errOut := kcnaIn(t, strings.NewReader(""), "glossary", "NAMESPACE")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"namespace: lesson 4,", "(kcna-lab show 4)", "A kernel feature that gives",
		"See also: network namespace, PID namespace, user namespace."} {
		if !strings.Contains(out, want) {
			t.Errorf("glossary NAMESPACE lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = kcnaIn(t, strings.NewReader(""), "glossary")
	if code != 0 || strings.Count(out, "(kcna-lab show ") < 40 {
		t.Errorf("glossary lists %d terms (exit %d)", strings.Count(out, "(kcna-lab show "), code)
	}
	code, _, errOut = kcnaIn(t, strings.NewReader(""), "glossary", "hyperconverged")
	if code != 1 || !strings.Contains(errOut, `term "hyperconverged" in the glossary`) {
		t.Errorf("unknown term: exit %d, %s", code, errOut)
	}
	// A course without a glossary says so.
	code, _, errOut = kcnaIn(t, strings.NewReader(""), "--content", contentDir(t), "glossary")
	if code != 1 || !strings.Contains(errOut, "has no glossary") {
		t.Errorf("no glossary: exit %d, %s", code, errOut)
	}
}
