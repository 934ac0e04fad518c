package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/lessons"
)

func newExamCmd(a *app) *cobra.Command {
	var (
		questions, minutes int
		seed               int64
		review, asJSON     bool
		blueprint          bool
	)
	cmd := &cobra.Command{
		Use:   "exam",
		Short: "Take a timed practice exam drawn by the KCNA blueprint, with a review",
		Long: fmt.Sprintf(`Take a timed practice exam drawn from the questions of every lesson.

The real KCNA has 60 questions in 90 minutes and a pass mark of 75%%. The
mock exam keeps that pace: %d questions (or all the course has, if fewer),
%s per question, %d%% to pass.

Every question is tagged with the domain of the current KCNA blueprint
that it belongs to (%s):

%s
Questions are drawn by those weights. Where the course has fewer questions
in a domain than its weight asks for, the exam takes all it has and the
other domains fill the gap, so the exam is then a practice exam on what
kcna-lab teaches, not the KCNA's mix: it says so before it starts and
with its result, and its score is then no signal of KCNA readiness.
--blueprint shows the table for an exam of --questions questions: each
domain's weight, how many questions the course has in it, how many the
weight asks for, and how many the exam draws.

Choices are shuffled. A multiple-answer question counts only when every
right choice and no wrong one is picked, as on the real exam.

Answer with a letter (b) or letters (a,c). Press enter without an answer to
skip a question: skipped questions come back once at the end. The time left
is shown with every question; at the deadline the exam stops taking answers
and is scored. Ctrl+D (end of input) or Ctrl+C abandons it: nothing is
recorded, so an exam run with no input never counts as a fail.

At the end you get your score, a breakdown by domain, pass or fail, and a
review of every question: your answer, the right one, and why. Results are
kept in your progress (the last %d exams); --review shows the last one
again. The exam reads answers from standard input, so it also works in a
pipe or a script.`, lessons.DefaultExamQuestions, perQuestion(), lessons.ExamPassPercent,
			lessons.BlueprintSource, domainWeights(), lessons.MaxExamHistory),
		Example: `  # a full mock exam: up to 60 questions, 1.5 minutes each
  kcna-lab exam

  # a quick one: 10 questions in 12 minutes
  kcna-lab exam --count 10 --minutes 12

  # the same questions again (the seed is printed at the start)
  kcna-lab exam --seed 1234

  # the blueprint next to what this course can draw, without an exam
  kcna-lab exam --blueprint

  # look at the last exam's answers and explanations again
  kcna-lab exam --review

  # the last result for a script
  kcna-lab exam --review --json | jq '.percent, .passed'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if questions < 1 {
				return fmt.Errorf("an exam needs at least 1 question (--count), not %d", questions)
			}
			if minutes < 0 {
				return fmt.Errorf("the time allowed (--minutes) must be more than 0, or left out for %s per question; not %d",
					perQuestion(), minutes)
			}
			course, err := a.course()
			if err != nil {
				return err
			}
			if blueprint {
				writeBlueprint(a.stdout, lessons.PlanExam(course, questions))
				return nil
			}
			store, p, err := a.progress()
			if err != nil {
				return err
			}
			if review {
				r, ok := p.LastExam()
				if !ok {
					return fmt.Errorf("no exam taken yet: run `kcna-lab exam` first")
				}
				if asJSON {
					return writeExamJSON(a, r)
				}
				writeExamResult(a.stdout, r)
				writeExamReview(a.stdout, r.Review(course))
				return nil
			}
			if !cmd.Flags().Changed("seed") {
				seed = clk.Now().UnixNano() % 1_000_000
			}
			exam, err := lessons.NewExam(course, lessons.ExamOptions{
				Questions: questions, Duration: time.Duration(minutes) * time.Minute, Seed: seed})
			if err != nil {
				return err
			}
			return runExam(cmd.Context(), a, course, exam, store, p, asJSON)
		},
	}
	countFlag(cmd.Flags(), &questions, lessons.DefaultExamQuestions, "how many questions to draw, at most", "questions")
	cmd.Flags().IntVar(&minutes, "minutes", 0, "time allowed in `M`inutes (default: 1.5 per question)")
	cmd.Flags().Int64Var(&seed, "seed", 0, "draw a repeatable exam: the same seed gives the same questions")
	cmd.Flags().BoolVar(&review, "review", false, "show the last exam's result and review instead of taking one")
	cmd.Flags().BoolVar(&blueprint, "blueprint", false, "show the KCNA blueprint next to what this course can draw, and exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON on stdout (questions go to stderr)")
	return cmd
}

// domainWeights is the blueprint as text, for the help.
func domainWeights() string {
	var b strings.Builder
	for _, d := range lessons.Blueprint {
		fmt.Fprintf(&b, "  %-34s %3d%%\n", d.Name, d.Weight)
	}
	return b.String()
}

// writeBlueprint prints the blueprint next to an exam's draw, the exam's
// name and, when it departs from the blueprint, why its score says
// nothing about KCNA readiness.
func writeBlueprint(w io.Writer, plan []lessons.PlanRow) {
	fmt.Fprintf(w, "KCNA blueprint: %s.\n", lessons.BlueprintSource)
	for _, l := range lessons.PlanTable(plan) {
		fmt.Fprintln(w, "  "+l)
	}
	e := lessons.Exam{Plan: plan}
	fmt.Fprintf(w, "This exam: %s.\n", e.Name())
	if c := e.Caveat(); c != "" {
		fmt.Fprintln(w, cli.WrapIndent(c, 0))
	}
}

// perQuestion is the time per question in words: "1.5 minutes".
func perQuestion() string {
	return strconv.FormatFloat(lessons.ExamTimePerQuestion.Minutes(), 'f', -1, 64) + " minutes"
}

func runExam(ctx context.Context, a *app, course *lessons.Course, exam *lessons.Exam,
	store *lessons.Store, p *lessons.Progress, asJSON bool) error {
	out := a.stdout
	if asJSON {
		out = a.stderr // keep stdout for the JSON
	}
	n := len(exam.Items)
	writeBlueprint(out, exam.Plan)
	fmt.Fprintf(out, "\n%d question(s), %s, pass mark %d%%. Seed %d: `kcna-lab exam --seed %d` draws this exam again.\n",
		n, lessons.ClockText(exam.Duration), exam.PassPercent, exam.Seed, exam.Seed)
	fmt.Fprintln(out, "Answer with a letter (b) or letters (a,c). Enter skips; skipped questions come back at the end. Ctrl+D abandons the exam.")

	in := a.newLineReader(out)
	defer in.close()
	start := clk.Now()
	deadline := start.Add(exam.Duration)
	timer := clk.After(exam.Duration)
	picks := make([][]int, n)
	queue := make([]int, n)
	for i := range queue {
		queue[i] = i
	}
	var timedOut, ended bool
exam:
	for pass := 1; pass <= 2 && len(queue) > 0; pass++ {
		if pass == 2 {
			fmt.Fprintf(out, "\nYou skipped %d question(s); here they are again. Enter now leaves one unanswered.\n", len(queue))
		}
		var skipped []int
		for _, i := range queue {
			now := clk.Now()
			if !now.Before(deadline) {
				timedOut = true
				break exam
			}
			it := exam.Items[i]
			fmt.Fprintf(out, "\n[%d/%d] %s left · %s\n", i+1, n, lessons.ClockText(deadline.Sub(now)), it.Domain)
			writeQuestion(out, it.Q.Prompt, it.Choices(), len(it.Q.Answers))
			picked, st := askLetters(ctx, in, out, len(it.Order), len(it.Q.Answers), true, timer)
			switch st {
			case timeUp:
				timedOut = true
				break exam
			case inputEnd:
				ended = true
				break exam
			}
			if !clk.Now().Before(deadline) {
				fmt.Fprintln(out, "That answer came after the deadline and was not counted.")
				timedOut = true
				break exam
			}
			if picked == nil {
				skipped = append(skipped, i)
				continue
			}
			picks[i] = picked
		}
		queue = skipped
	}
	if ended {
		// The input ran out or was interrupted before the deadline: the
		// learner left, and a score of what they never saw would be false.
		fmt.Fprintf(out, "\nInput ended after %d of %d answer(s): the exam is abandoned and nothing was recorded. `kcna-lab exam --seed %d` draws it again.\n",
			answered(picks), n, exam.Seed)
		return cli.ExitError{Code: 1}
	}
	if timedOut {
		fmt.Fprintln(out, "\nTime is up: the exam is scored as it stands.")
	}
	r := exam.Grade(picks, start, clk.Now(), timedOut)
	p.RecordExam(r)
	saveErr := store.Save(p)
	if asJSON {
		if err := writeExamJSON(a, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out)
		writeExamResult(out, r)
		writeExamReview(out, r.Review(course))
	}
	if saveErr != nil {
		return fmt.Errorf("the result was not saved to your progress: %w", saveErr)
	}
	fmt.Fprintln(out, "\nSaved to your progress. `kcna-lab exam --review` shows this review again.")
	return nil
}

// answered counts the questions given an answer.
func answered(picks [][]int) int {
	n := 0
	for _, p := range picks {
		if p != nil {
			n++
		}
	}
	return n
}

func passText(r lessons.ExamResult) string {
	if r.Passed {
		return "PASS"
	}
	return "FAIL"
}

// writeExamResult prints the score, pass or fail and the domain breakdown.
func writeExamResult(w io.Writer, r lessons.ExamResult) {
	fmt.Fprintf(w, "Result: %d of %d right (%d%%): %s. The pass mark is %d%%.\n",
		r.Score, r.Total, r.Percent(), passText(r), r.PassPercent)
	took := fmt.Sprintf("Time: %s of %s", lessons.ClockText(time.Duration(r.Seconds)*time.Second), lessons.ClockText(time.Duration(r.LimitSeconds)*time.Second))
	if r.TimedOut {
		took += " (time ran out)"
	}
	fmt.Fprintf(w, "%s. Taken %s, seed %d.\n", took, r.At.Local().Format("2006-01-02 15:04"), r.Seed)
	if len(r.Domains) > 0 {
		fmt.Fprintln(w, "\nBy domain:")
		for _, d := range r.Domains {
			pct := 0
			if d.Total > 0 {
				pct = d.Right * 100 / d.Total
			}
			fmt.Fprintf(w, "  %-36s %3d/%-3d %3d%%\n", d.Domain, d.Right, d.Total, pct)
		}
	}
	if c := lessons.ResultCaveat(r); c != "" {
		fmt.Fprintln(w, "\n"+cli.WrapIndent(c, 0))
	}
}

// writeExamReview prints every question with the learner's answer, the
// right one and the explanation.
func writeExamReview(w io.Writer, items []lessons.ReviewItem) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(w, "\nReview: your answer, the right one, and why.")
	for _, it := range items {
		verdict := "RIGHT"
		switch {
		case len(it.Given) == 0:
			verdict = "UNANSWERED"
		case !it.Answer.Right:
			verdict = "WRONG"
		}
		fmt.Fprintf(w, "\n%2d. %s · %s · %s\n", it.Number, verdict, it.Answer.Domain, it.Answer.ID)
		if it.Question == nil {
			fmt.Fprintln(w, "    This question is no longer in the course (or has changed).")
		} else {
			fmt.Fprintln(w, cli.WrapIndent(it.Question.Prompt, 4))
			for i := range it.Choices {
				fmt.Fprintln(w, wrapHanging(it.ChoiceLine(i), 6, 3))
			}
		}
		given := "none"
		if len(it.Given) > 0 {
			given = joinLetters(it.Given, ",")
		}
		fmt.Fprintf(w, "    Your answer: %s. Right answer: %s.\n", given, joinLetters(it.Correct, ","))
		if it.Question != nil {
			fmt.Fprintln(w, cli.WrapIndent(it.Question.Explanation, 4))
		}
	}
}

// examJSON is a result as --json prints it: the saved record plus its
// percentage. Choice indexes count from 0 in the lesson's own order.
type examJSON struct {
	lessons.ExamResult
	Percent int `json:"percent"`
	// Caveat says why the score is no KCNA readiness signal, when the
	// exam departed from the blueprint.
	Caveat string `json:"caveat,omitempty"`
}

func writeExamJSON(a *app, r lessons.ExamResult) error {
	return a.printJSON(examJSON{ExamResult: r, Percent: r.Percent(), Caveat: lessons.ResultCaveat(r)})
}
