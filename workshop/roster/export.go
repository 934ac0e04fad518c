//go:build linux

package roster

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// Result is one student's results, as `class --json` and `class export`
// write them: the instructor's record of the day. Its fields and the CSV
// columns (ExportColumns) are a stable format; new ones are only added.
type Result struct {
	Name        string         `json:"name"`
	LessonsRead int            `json:"lessons_read"`
	LessonsDone int            `json:"lessons_done"`
	Lessons     []LessonResult `json:"lessons"`
	QuizRight   int            `json:"quiz_right"`
	QuizTotal   int            `json:"quiz_total"`
	// Domains are the quiz scores by KCNA domain, in course order.
	Domains          []lessons.DomainScore `json:"domains"`
	ChallengesPassed int                   `json:"challenges_passed"`
	ChallengesTotal  int                   `json:"challenges_total"`
	Exams            []ExamResult          `json:"exams"`
}

// LessonResult is a student's standing in one lesson.
type LessonResult struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	QuizRight  int      `json:"quiz_right"`
	QuizTotal  int      `json:"quiz_total"`
	Challenges []string `json:"challenges_passed"`
}

// ExamResult is one mock exam taken.
type ExamResult struct {
	At      time.Time `json:"at"`
	Score   int       `json:"score"`
	Total   int       `json:"total"`
	Percent int       `json:"percent"`
	Passed  bool      `json:"passed"`
}

// Results works out every student's results from their progress.
func Results(c *lessons.Course, progress map[string]*lessons.Progress, names []string) []Result {
	out := make([]Result, 0, len(names))
	for _, n := range names {
		out = append(out, result(c, n, progress[n]))
	}
	return out
}

func result(c *lessons.Course, name string, p *lessons.Progress) Result {
	if p == nil {
		p = lessons.NewProgress()
	}
	r := Result{Name: name, Lessons: []LessonResult{}, Exams: []ExamResult{}, Domains: []lessons.DomainScore{}}
	domains := map[string]int{}
	for _, l := range c.Lessons {
		right, total := p.Score(l)
		lr := LessonResult{ID: l.ID, Status: string(p.Status(l)), QuizRight: right, QuizTotal: total, Challenges: []string{}}
		if lp := p.Lessons[l.ID]; lp != nil {
			if !lp.ReadAt.IsZero() {
				r.LessonsRead++
			}
			for _, ch := range l.Challenges {
				if _, ok := lp.Challenges[ch.ID]; ok {
					lr.Challenges = append(lr.Challenges, ch.ID)
				}
			}
		}
		if p.Status(l) == lessons.Done {
			r.LessonsDone++
		}
		r.QuizRight += right
		r.QuizTotal += total
		r.ChallengesPassed += len(lr.Challenges)
		r.ChallengesTotal += len(l.Challenges)
		d := l.Domain
		i, ok := domains[d]
		if !ok {
			i = len(r.Domains)
			domains[d] = i
			r.Domains = append(r.Domains, lessons.DomainScore{Domain: d})
		}
		r.Domains[i].Right += right
		r.Domains[i].Total += total
		r.Lessons = append(r.Lessons, lr)
	}
	for _, e := range p.Exams {
		r.Exams = append(r.Exams, ExamResult{At: e.At.UTC(), Score: e.Score, Total: e.Total, Percent: e.Percent(), Passed: e.Passed})
	}
	return r
}

// ExportColumns are the CSV's columns before the per-domain ones
// (DOMAIN_right, DOMAIN_total, one pair per domain in course order) and
// the exam's (exams_taken, exam_best_percent, exam_last_percent,
// exam_last_at, RFC 3339 in UTC).
var ExportColumns = []string{"name", "lessons_read", "lessons_done", "quiz_right", "quiz_total", "challenges_passed", "challenges_total"}

// Export writes the roster's students' results as "table", "json" or "csv".
func Export(w io.Writer, r *Roster, c *lessons.Course, format string) error {
	progress := map[string]*lessons.Progress{}
	names := r.Names()
	for _, n := range names {
		progress[n], _ = r.Progress(n)
	}
	return WriteResults(w, Results(c, progress, names), format)
}

// WriteResults writes results as "table", "json" or "csv".
func WriteResults(w io.Writer, results []Result, format string) error {
	switch format {
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(struct {
			Students []Result `json:"students"`
		}{results})
	case "csv":
		return writeCSV(w, results)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tREAD\tDONE\tQUIZ\tCHALLENGES\tEXAMS\tBEST")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d/%d\t%d/%d\t%d\t%s\n", r.Name, r.LessonsRead, r.LessonsDone, r.QuizRight, r.QuizTotal,
				r.ChallengesPassed, r.ChallengesTotal, len(r.Exams), bestPercent(r))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q: give csv or json", format)
}

func writeCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	header := append([]string(nil), ExportColumns...)
	if len(results) > 0 {
		for _, d := range results[0].Domains {
			header = append(header, d.Domain+"_right", d.Domain+"_total")
		}
	}
	header = append(header, "exams_taken", "exam_best_percent", "exam_last_percent", "exam_last_at")
	if err := cw.Write(header); err != nil {
		return err
	}
	itoa := strconv.Itoa
	for _, r := range results {
		row := []string{r.Name, itoa(r.LessonsRead), itoa(r.LessonsDone), itoa(r.QuizRight), itoa(r.QuizTotal), itoa(r.ChallengesPassed), itoa(r.ChallengesTotal)}
		for _, d := range r.Domains {
			row = append(row, itoa(d.Right), itoa(d.Total))
		}
		last, lastAt := "", ""
		if n := len(r.Exams); n > 0 {
			last, lastAt = itoa(r.Exams[n-1].Percent), r.Exams[n-1].At.Format(time.RFC3339)
		}
		row = append(row, itoa(len(r.Exams)), bestPercent(r), last, lastAt)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func bestPercent(r Result) string {
	if len(r.Exams) == 0 {
		return ""
	}
	best := 0
	for _, e := range r.Exams {
		best = max(best, e.Percent)
	}
	return strconv.Itoa(best)
}
