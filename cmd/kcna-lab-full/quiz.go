package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/lessons"
)

func newQuizCmd(a *app) *cobra.Command {
	var (
		count  int
		seed   int64
		missed bool
	)
	cmd := &cobra.Command{
		Use:   "quiz [LESSON]",
		Short: "Practise KCNA-style questions in the plain terminal, with feedback",
		Long: `Practise a lesson's questions one at a time, without the full-screen app.

Each question lists its choices as a), b), c) ... Answer with the letter of
your choice, e.g. b, or with several letters when the question asks for
more than one, e.g. a,c (spaces work too: a c). You are told at once whether
you were right, what the right answer is, and why.

LESSON is a lesson's id, number or file slug (see ` + "`kcna-lab lessons`" + `); without
it, the questions of every lesson are mixed. Your answers are saved to your
progress as you go, exactly as in the app's quiz, so the course map and
` + "`kcna-lab lessons`" + ` show your score.

Press Ctrl+D (end of input) to stop early; the answers given so far are
kept. The quiz reads answers from standard input, so it also works in a
pipe or a script. For a timed exam drawn by the KCNA blueprint's weights,
see ` + "`kcna-lab exam`" + `.

--missed asks again the questions you have got wrong, in a quiz or in a
kept exam, scheduled by Leitner boxes: a missed question goes to box 1,
each right answer moves it up a box, and a miss sends it back to box 1.
Box 1 is due at once, box 2 a day after its last answer, box 3 after 3
days, box 4 after 7 and box 5 after 21. Only the questions due now are
asked, lowest box first.`,
		Example: `  # the questions of lesson 3
  kcna-lab quiz 3

  # ten questions from the whole course, in a random order
  kcna-lab quiz --count 10

  # the same order again
  kcna-lab quiz --count 10 --seed 42

  # the questions you missed that are due again (Leitner boxes)
  kcna-lab quiz --missed

  # answer from a script: b for the first question, a and c for the second
  printf 'b\na,c\n' | kcna-lab quiz why-containers --count 2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 {
				return fmt.Errorf("the number of questions (--count) must be 0 for all, or more; not %d", count)
			}
			course, err := a.course()
			if err != nil {
				return err
			}
			var qs []*lessons.Question
			title := "the whole course"
			var only *lessons.Lesson
			if len(args) == 1 {
				l, err := lesson(course, args[0])
				if err != nil {
					return err
				}
				only, title = l, l.Title
			}
			if missed {
				store, p, err := a.progress()
				if err != nil {
					return err
				}
				qs = dueQuestions(a, course, p, only, count)
				if len(qs) == 0 {
					return nil
				}
				return runQuiz(cmd.Context(), a, course, "missed questions due for review", qs, store, p)
			}
			if only != nil {
				for i := range only.Quiz {
					qs = append(qs, &only.Quiz[i])
				}
			} else {
				qs = course.Questions()
				if !cmd.Flags().Changed("seed") {
					seed = clk.Now().UnixNano()
				}
				rng := rand.New(rand.NewPCG(uint64(seed), 0))
				rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
			}
			if len(qs) == 0 {
				return fmt.Errorf("%s has no questions yet", title)
			}
			if count > 0 && count < len(qs) {
				qs = qs[:count]
			}
			store, p, err := a.progress()
			if err != nil {
				return err
			}
			return runQuiz(cmd.Context(), a, course, title, qs, store, p)
		},
	}
	countFlag(cmd.Flags(), &count, 0, "ask at most N questions (0: all)", "")
	cmd.Flags().Int64Var(&seed, "seed", 0, "mix the whole course's questions in a repeatable order")
	cmd.Flags().BoolVar(&missed, "missed", false, "ask the questions you missed that are due again, by Leitner boxes")
	return cmd
}

// dueQuestions are the missed questions due now (of one lesson, if only is
// set), at most count of them when count > 0. It tells the learner what is
// due and, when nothing is, when the next one will be.
func dueQuestions(a *app, course *lessons.Course, p *lessons.Progress, only *lessons.Lesson, count int) []*lessons.Question {
	if only != nil {
		course = &lessons.Course{Lessons: []*lessons.Lesson{only}}
	}
	now := clk.Now()
	due, later := p.Missed(course, now)
	boxes := make([]int, lessons.LeitnerBoxes+1)
	for _, c := range append(slices.Clone(due), later...) {
		boxes[c.Box]++
	}
	var counts []string
	for b := 1; b <= lessons.LeitnerBoxes; b++ {
		counts = append(counts, fmt.Sprintf("box %d: %d", b, boxes[b]))
	}
	if len(due)+len(later) == 0 {
		fmt.Fprintln(a.stdout, "You have missed no question yet, so there is nothing to review. `kcna-lab quiz` asks them all.")
		return nil
	}
	fmt.Fprintf(a.stdout, "Missed questions by Leitner box (%s).\n", strings.Join(counts, ", "))
	if len(due) == 0 {
		fmt.Fprintf(a.stdout, "None is due now. The next, in box %d, is due %s.\n",
			later[0].Box, later[0].Due.Local().Format("2006-01-02 15:04"))
		return nil
	}
	if count > 0 && count < len(due) {
		due = due[:count]
	}
	qs := make([]*lessons.Question, len(due))
	for i, c := range due {
		qs[i] = c.Q
	}
	return qs
}

func runQuiz(ctx context.Context, a *app, course *lessons.Course, title string, qs []*lessons.Question,
	store *lessons.Store, p *lessons.Progress) error {
	out := a.stdout
	in := a.newLineReader(out)
	defer in.close()
	fmt.Fprintf(out, "Practice: %s, %d question(s). Answer with a letter (b) or letters (a,c); Ctrl+D stops.\n", title, len(qs))
	lessonTitle := map[string]string{}
	for _, l := range course.Lessons {
		lessonTitle[l.ID] = l.Title
	}
	var right, asked int
	var saveErr error
	for i, q := range qs {
		fmt.Fprintf(out, "\n[%d/%d] %s\n", i+1, len(qs), lessonTitle[q.LessonID])
		writeQuestion(out, q.Prompt, q.Choices, len(q.Answers))
		picked, st := askLetters(ctx, in, out, len(q.Choices), len(q.Answers), false, nil)
		if st != gotLine {
			fmt.Fprintf(out, "\nStopped after %d of %d question(s), %d right. %s\n", asked, len(qs), right, savedText(asked, saveErr))
			return quizExit(saveErr)
		}
		asked++
		ok := p.RecordAnswer(q, picked, clk.Now())
		if err := store.Save(p); err != nil && saveErr == nil {
			saveErr = fmt.Errorf("progress not saved: %w", err)
			fmt.Fprintln(a.stderr, saveErr)
		}
		if ok {
			right++
			fmt.Fprintln(out, "Right.")
		} else {
			fmt.Fprintf(out, "Not quite. The answer is %s.\n", joinLetters(q.Answers, " and "))
		}
		fmt.Fprintln(out, cli.WrapIndent(q.Explanation, 2))
	}
	fmt.Fprintf(out, "\nYou answered %d of %d right. %s\n", right, len(qs), savedText(asked, saveErr))
	return quizExit(saveErr)
}

// quizExit is exit status 1 when the answers were not saved: the error has
// been printed already, when it happened and in the last line.
func quizExit(saveErr error) error {
	if saveErr != nil {
		return cli.ExitError{Code: 1}
	}
	return nil
}

// savedText says whether the answers reached the progress file: a quiz
// whose saves failed must not end by saying they were saved.
func savedText(asked int, saveErr error) string {
	switch {
	case saveErr != nil:
		return "Your answers were NOT saved: " + saveErr.Error() + "."
	case asked == 0:
		return "Nothing to save."
	default:
		return "Your answers are saved; `kcna-lab lessons` shows your score."
	}
}

// writeQuestion prints a prompt and its lettered choices.
func writeQuestion(w io.Writer, prompt string, choices []string, answers int) {
	fmt.Fprintln(w, strings.TrimSpace(prompt))
	if answers > 1 {
		fmt.Fprintf(w, "(choose %d)\n", answers)
	}
	for i, c := range choices {
		fmt.Fprintln(w, wrapHanging(lessons.Letter(i)+") "+c, 2, 3))
	}
}

// wrapHanging wraps s indented by indent, its later lines by hang more, so
// they line up under the text after a "b) " label.
func wrapHanging(s string, indent, hang int) string {
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(ansi.Wrap(strings.TrimSpace(s), cli.TextWidth-indent-hang, " "), "\n")
	return pad + strings.Join(lines, "\n"+pad+strings.Repeat(" ", hang))
}

func joinLetters(idx []int, sep string) string {
	ls := make([]string, len(idx))
	for i, x := range idx {
		ls[i] = lessons.Letter(x)
	}
	return strings.Join(ls, sep)
}

// readStatus says how waiting for a line ended.
type readStatus int

const (
	gotLine  readStatus = iota
	inputEnd            // end of input (Ctrl+D, a pipe's end) or an interrupt
	timeUp              // the exam's deadline passed
)

// askLetters prompts until a valid answer, of as many letters as the
// question has answers, arrives. With allowSkip an empty line is a skip,
// returned as a nil pick with gotLine. A deadline, when timeUp is not nil,
// stops the wait.
func askLetters(ctx context.Context, in *lineReader, w io.Writer, choices, answers int, allowSkip bool,
	deadline <-chan time.Time) ([]int, readStatus) {
	for {
		fmt.Fprint(w, "Answer: ")
		line, st := in.read(ctx, deadline)
		if st != gotLine {
			fmt.Fprintln(w)
			return nil, st
		}
		line = strings.TrimSpace(line)
		if line == "" && allowSkip {
			return nil, gotLine
		}
		picked, problem := parseLetters(line, choices, answers)
		if problem != "" {
			fmt.Fprintln(w, "  "+problem)
			continue
		}
		return picked, gotLine
	}
}

// parseLetters reads "b", "a,c", "a c" or "A, C" as choice indexes, sorted
// and without repeats. A question with several answers takes exactly that
// many letters, as the real exam's "choose two" does. A problem says what
// was wrong and how to answer.
func parseLetters(s string, choices, answers int) (picked []int, problem string) {
	last := lessons.Letter(choices - 1)
	how := fmt.Sprintf("answer with a letter from a to %s, like b", last)
	if answers > 1 {
		how = fmt.Sprintf("answer with %d letters from a to %s, like %s", answers, last, example(answers))
	}
	if strings.TrimSpace(s) == "" {
		return nil, "No answer given: " + how + ". Ctrl+D stops."
	}
	seen := make([]bool, choices)
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ',' || r == ' ' || r == '\t' || r == ';':
			continue
		case r < 'a' || r > 'z' || int(r-'a') >= choices:
			return nil, fmt.Sprintf("%q is not a choice here: %s.", string(r), how)
		case !seen[r-'a']:
			seen[r-'a'] = true
			picked = append(picked, int(r-'a'))
		}
	}
	switch {
	case answers <= 1 && len(picked) > 1:
		return nil, fmt.Sprintf("This question has one answer: %s.", how)
	case answers > 1 && len(picked) != answers:
		return nil, fmt.Sprintf("This question asks for %d answers, not %d: %s.", answers, len(picked), how)
	}
	slices.Sort(picked)
	return picked, ""
}

// example is n letters as an answer is typed: "a,c" for 2, "a,c,e" for 3.
func example(n int) string {
	ls := make([]string, n)
	for i := range ls {
		ls[i] = lessons.Letter(2 * i)
	}
	return strings.Join(ls, ",")
}

// lineReader reads standard input one line at a time, on request, in the
// background, so that an exam's deadline can end a wait for an answer.
// Nothing is read ahead: a line is read only when one is asked for.
type lineReader struct {
	// echo, when set, gets each line read: input from a pipe is not shown
	// by a terminal, and a transcript reads better with the answers in it.
	echo    io.Writer
	want    chan struct{}
	lines   chan string
	done    chan struct{}
	pending bool
	ended   bool
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{want: make(chan struct{}), lines: make(chan string), done: make(chan struct{})}
	go func() {
		defer close(lr.lines)
		br := bufio.NewReader(r)
		for {
			select {
			case <-lr.want:
			case <-lr.done:
				return
			}
			line, err := br.ReadString('\n')
			if line == "" && err != nil {
				return
			}
			select {
			case lr.lines <- strings.TrimRight(line, "\r\n"):
			case <-lr.done:
				return
			}
		}
	}()
	return lr
}

// newLineReader reads a's stdin, echoing to w what it reads unless stdin
// is a terminal (which shows what is typed itself).
func (a *app) newLineReader(w io.Writer) *lineReader {
	lr := newLineReader(a.stdin)
	if _, tty := cli.Terminal(a.stdin); !tty {
		lr.echo = w
	}
	return lr
}

// read waits for the next line, the end of input, ctx's end or the deadline.
func (lr *lineReader) read(ctx context.Context, deadline <-chan time.Time) (string, readStatus) {
	if lr.ended {
		return "", inputEnd
	}
	if !lr.pending {
		select {
		case lr.want <- struct{}{}:
			lr.pending = true
		case <-ctx.Done():
			return "", inputEnd
		case <-deadline:
			return "", timeUp
		}
	}
	select {
	case line, ok := <-lr.lines:
		lr.pending = false
		if !ok {
			lr.ended = true
			return "", inputEnd
		}
		if lr.echo != nil {
			fmt.Fprintln(lr.echo, line)
		}
		return line, gotLine
	case <-ctx.Done():
		return "", inputEnd
	case <-deadline:
		return "", timeUp
	}
}

// close stops the background reader (it may stay blocked in a read of a
// terminal until the process exits, which is harmless).
func (lr *lineReader) close() {
	select {
	case <-lr.done:
	default:
		close(lr.done)
	}
}

// clock is the time source of quiz and exam, replaced in tests so that a
// deadline needs no sleeping.
type clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

var clk clock = realClock{}
