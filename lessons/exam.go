package lessons

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The real KCNA is 60 questions in 90 minutes with 75% to pass; the mock
// exam keeps the same pace and pass mark.
const (
	DefaultExamQuestions = 60
	ExamTimePerQuestion  = 90 * time.Second
	ExamPassPercent      = 75
)

// ExamOptions shape a mock exam. Zero values take the defaults.
type ExamOptions struct {
	// Questions is how many to draw: DefaultExamQuestions when 0, and never
	// more than the course has.
	Questions int
	// Duration is the time allowed: ExamTimePerQuestion per question when 0.
	Duration time.Duration
	// Seed makes the draw repeatable: the same course and seed give the
	// same exam.
	Seed int64
	// KeepChoiceOrder shows choices in the order the lesson gives them.
	// Otherwise they are shuffled wherever that cannot change a question's
	// meaning (see shuffleSafe).
	KeepChoiceOrder bool
}

// Exam is a drawn mock exam, ready to be taken.
type Exam struct {
	Items       []ExamItem
	Duration    time.Duration
	PassPercent int
	Seed        int64
	// Plan is the blueprint next to this draw: one row per domain.
	Plan []PlanRow
}

// ExamItem is one question as the exam shows it.
type ExamItem struct {
	Q *Question
	// Order maps a shown position to the choice's index in Q.Choices:
	// the choice shown as letter i is Q.Choices[Order[i]].
	Order []int
	// Domain is the exam domain's name.
	Domain string
}

// PlanRow is one Blueprint domain as an exam of a given size meets it.
type PlanRow struct {
	Domain
	// InCourse is how many questions the course has in the domain.
	InCourse int
	// Share is how many questions the domain's weight asks for in an exam
	// of this size (largest remainder), Drawn how many the exam draws:
	// fewer when the course has fewer, more when another domain's gap is
	// filled from this one.
	Share, Drawn int
}

// ErrNoQuestions is returned when a course has nothing to draw an exam from.
var ErrNoQuestions = errors.New("the course has no questions to draw an exam from")

// NewExam draws a mock exam from every question in c by the Blueprint's
// weights. A domain with fewer questions than its share gives all it has
// and the others, by weight, fill the gap; e.Plan and e.Caveat say so.
func NewExam(c *Course, o ExamOptions) (*Exam, error) {
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x6b636e612d6c6162)) // "kcna-lab"

	pools := examPools(c)
	plan, n := planFor(pools, o.Questions)
	if n == 0 {
		return nil, ErrNoQuestions
	}
	e := &Exam{Duration: o.Duration, PassPercent: ExamPassPercent, Seed: o.Seed, Plan: plan}
	for d, pool := range pools {
		for _, i := range rng.Perm(len(pool))[:plan[d].Drawn] {
			q := pool[i]
			order := identity(len(q.Choices))
			if !o.KeepChoiceOrder && shuffleSafe(q) {
				order = rng.Perm(len(q.Choices))
			}
			e.Items = append(e.Items, ExamItem{Q: q, Order: order, Domain: Blueprint[d].Name})
		}
	}
	rng.Shuffle(len(e.Items), func(i, j int) { e.Items[i], e.Items[j] = e.Items[j], e.Items[i] })
	if e.Duration <= 0 {
		e.Duration = time.Duration(len(e.Items)) * ExamTimePerQuestion
	}
	return e, nil
}

// PlanExam is the blueprint next to an exam of up to questions questions
// (DefaultExamQuestions when 0) drawn from c, without drawing it: the draw's
// sizes do not depend on the seed.
func PlanExam(c *Course, questions int) []PlanRow {
	plan, _ := planFor(examPools(c), questions)
	return plan
}

// examPools are c's questions by Blueprint domain, in course order, without
// duplicates or questions that cannot be scored.
func examPools(c *Course) [][]*Question {
	pools := make([][]*Question, len(Blueprint))
	seen := map[string]bool{}
	for _, q := range c.Questions() {
		d := domainIndex(q.Domain)
		if d < 0 || seen[q.Key()] || len(q.Choices) == 0 || len(q.Answers) == 0 {
			continue
		}
		seen[q.Key()] = true
		pools[d] = append(pools[d], q)
	}
	return pools
}

// planFor sizes an exam of up to questions questions over pools, and
// returns the plan and the exam's size.
func planFor(pools [][]*Question, questions int) ([]PlanRow, int) {
	available := 0
	weights := make([]int, len(Blueprint))
	avail := make([]int, len(Blueprint))
	unlimited := make([]int, len(Blueprint))
	for i, d := range Blueprint {
		weights[i], avail[i], unlimited[i] = d.Weight, len(pools[i]), math.MaxInt
		available += len(pools[i])
	}
	n := questions
	if n <= 0 {
		n = DefaultExamQuestions
	}
	n = min(n, available)
	share, drawn := allocate(n, weights, unlimited), allocate(n, weights, avail)
	plan := make([]PlanRow, len(Blueprint))
	for i, d := range Blueprint {
		plan[i] = PlanRow{Domain: d, InCourse: avail[i], Share: share[i], Drawn: drawn[i]}
	}
	return plan, n
}

// Name says what the exam is: a mock KCNA exam only when every domain gets
// its blueprint share, otherwise a practice exam on what the course covers.
func (e *Exam) Name() string { return examName(e.Plan) }

// Caveat says, in one paragraph, where the exam departs from the
// blueprint and so why its score is not a KCNA readiness signal; "" when
// it does not depart.
func (e *Exam) Caveat() string { return planCaveat(e.Plan) }

func examName(plan []PlanRow) string {
	if planFaithful(plan) {
		return "Mock KCNA exam, weighted by the KCNA blueprint"
	}
	covered := 0
	for _, r := range plan {
		if r.Drawn > 0 {
			covered++
		}
	}
	return fmt.Sprintf("Course practice exam (%d of %d KCNA domains, not the blueprint's mix)", covered, len(plan))
}

func planFaithful(plan []PlanRow) bool {
	for _, r := range plan {
		if r.Drawn != r.Share {
			return false
		}
	}
	return len(plan) > 0
}

func planCaveat(plan []PlanRow) string {
	if planFaithful(plan) {
		return ""
	}
	var untested, short, over []string
	for _, r := range plan {
		switch {
		case r.Share > 0 && r.Drawn == 0:
			untested = append(untested, fmt.Sprintf("%s (%d%%)", r.Name, r.Weight))
		case r.Drawn < r.Share:
			short = append(short, fmt.Sprintf("%s (%d of the %d its %d%% asks for)", r.Name, r.Drawn, r.Share, r.Weight))
		case r.Drawn > r.Share:
			over = append(over, r.Name)
		}
	}
	var b strings.Builder
	if len(untested) > 0 {
		fmt.Fprintf(&b, "Untested here: %s; the course has no questions there. ", strings.Join(untested, ", "))
	}
	if len(short) > 0 {
		fmt.Fprintf(&b, "Under-sampled: %s. ", strings.Join(short, ", "))
	}
	switch len(over) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "%s fills the gap. ", over[0])
	default:
		fmt.Fprintf(&b, "%s fill the gap. ", strings.Join(over, " and "))
	}
	b.WriteString("The score is practice on this course's topics, not a signal of KCNA readiness.")
	return b.String()
}

// PlanTable is the plan as aligned text lines, a header first: each
// domain's weight, the course's questions in it, its blueprint share of
// this exam and what the exam draws.
func PlanTable(plan []PlanRow) []string {
	total := 0
	for _, r := range plan {
		total += r.Drawn
	}
	out := []string{fmt.Sprintf("%-34s %6s %6s %9s %5s", "KCNA domain", "weight", "course", "blueprint", "drawn")}
	for _, r := range plan {
		note := ""
		switch {
		case r.Drawn < r.Share:
			note = fmt.Sprintf("  short by %d", r.Share-r.Drawn)
		case r.Drawn > r.Share:
			note = fmt.Sprintf("  +%d to fill", r.Drawn-r.Share)
		}
		out = append(out, fmt.Sprintf("%-34s %5d%% %6d %9d %5d%s", r.Name, r.Weight, r.InCourse, r.Share, r.Drawn, note))
	}
	return append(out, fmt.Sprintf("%-34s %6s %6s %9d %5d", "total", "100%", "", total, total))
}

// ResultCaveat is Caveat for a finished exam, from its saved per-domain
// counts: "" when every domain had its blueprint share.
func ResultCaveat(r ExamResult) string {
	drawn := map[string]int{}
	for _, d := range r.Domains {
		drawn[d.Domain] = d.Total
	}
	weights := make([]int, len(Blueprint))
	unlimited := make([]int, len(Blueprint))
	for i, d := range Blueprint {
		weights[i], unlimited[i] = d.Weight, math.MaxInt
	}
	share := allocate(r.Total, weights, unlimited)
	plan := make([]PlanRow, len(Blueprint))
	for i, d := range Blueprint {
		plan[i] = PlanRow{Domain: d, Share: share[i], Drawn: drawn[d.Name]}
	}
	return planCaveat(plan)
}

// allocate shares n questions among domains in proportion to their weights,
// by largest remainder, never giving a domain more than it has; what a small
// domain cannot take goes to the others, again by weight.
func allocate(n int, weights, avail []int) []int {
	quota := make([]int, len(weights))
	for n > 0 {
		var active []int
		total := 0
		for i, w := range weights {
			if w > 0 && avail[i] > quota[i] {
				active = append(active, i)
				total += w
			}
		}
		if len(active) == 0 {
			break
		}
		share := make(map[int]int, len(active))
		rem := make([]int, 0, len(active))
		given := 0
		for _, i := range active {
			share[i] = n * weights[i] / total
			given += share[i]
			rem = append(rem, i)
		}
		// Largest remainders first; ties go to the heavier, then the earlier domain.
		slices.SortStableFunc(rem, func(a, b int) int {
			return cmp.Or(cmp.Compare(n*weights[b]%total, n*weights[a]%total), cmp.Compare(weights[b], weights[a]))
		})
		for k := 0; given < n; k++ {
			share[rem[k%len(rem)]]++
			given++
		}
		for _, i := range active {
			take := min(share[i], avail[i]-quota[i])
			quota[i] += take
			n -= take
		}
	}
	return quota
}

func identity(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

// Choices that point at other choices or at their place in the list, and
// explanations that name choices by letter or place ("the second choice"),
// would be wrong in another order.
var (
	orderedChoice = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b(all|none|both|either|neither) of (the|these|them|those)\b|` +
			`\bthe (above|below)\b|\b(above|below) (options|choices|answers)\b|\b(all|none|any) (of )?the others?\b|` +
			`^\(?[a-h][).]|\b[a-h] and [a-h]\b`)
	})
	letterRef = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b(choice|option|answer|letter)s? \(?[a-h]\b\)?|\([a-h]\)|(^|\s)[a-h]\)\s|` +
			`\b(first|second|third|fourth|fifth|sixth|last) (choice|option|answer|one)s?\b|` +
			`\bthe (first|second|third|fourth|fifth|sixth) and (the )?(first|second|third|fourth|fifth|sixth|last)\b`)
	})
)

// shuffleSafe reports whether q's choices can be shown in any order.
func shuffleSafe(q *Question) bool {
	for _, c := range q.Choices {
		if orderedChoice().MatchString(c) {
			return false
		}
	}
	return !letterRef().MatchString(q.Explanation) && !letterRef().MatchString(q.Prompt)
}

// Choices are the choices in the order the exam shows them.
func (it ExamItem) Choices() []string {
	out := make([]string, len(it.Order))
	for i, o := range it.Order {
		out[i] = it.Q.Choices[o]
	}
	return out
}

// Original turns shown positions into indexes of Q.Choices, sorted and
// without duplicates; positions out of range are dropped.
func (it ExamItem) Original(shown []int) []int {
	return toOriginal(it.Order, shown)
}

// Shown turns indexes of Q.Choices into shown positions, sorted.
func (it ExamItem) Shown(original []int) []int {
	return toShown(it.Order, original)
}

// Answers are the shown positions of the right choices, sorted.
func (it ExamItem) Answers() []int { return it.Shown(it.Q.Answers) }

// Correct reports whether the shown positions picked are exactly the answer:
// all or nothing, as on the real exam.
func (it ExamItem) Correct(shown []int) bool {
	return len(shown) > 0 && it.Q.Correct(it.Original(shown))
}

func toOriginal(order, shown []int) []int {
	out := []int{}
	for _, s := range shown {
		if s >= 0 && s < len(order) {
			out = append(out, order[s])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func toShown(order, original []int) []int {
	out := []int{}
	for _, o := range original {
		if i := slices.Index(order, o); i >= 0 {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DomainCounts is how many questions of each exam domain the draw holds,
// in table order, leaving out domains without questions.
func (e *Exam) DomainCounts() []DomainScore {
	var out []DomainScore
	for _, d := range Blueprint {
		n := 0
		for _, it := range e.Items {
			if it.Domain == d.Name {
				n++
			}
		}
		if n > 0 {
			out = append(out, DomainScore{Domain: d.Name, Total: n})
		}
	}
	return out
}

// Grade scores a finished exam. picks[i] holds the shown positions picked
// for item i; nil or empty means unanswered, which scores as wrong.
// Single-answer questions need the one right choice, multiple-answer ones
// every right choice and no other.
func (e *Exam) Grade(picks [][]int, started, finished time.Time, timedOut bool) ExamResult {
	took := finished.Sub(started)
	if took < 0 {
		took = 0
	}
	if timedOut || took > e.Duration {
		took = e.Duration // a timed-out exam took all its time
	}
	r := ExamResult{
		At:           started,
		Total:        len(e.Items),
		Seconds:      int(took.Round(time.Second) / time.Second),
		LimitSeconds: int(e.Duration / time.Second),
		PassPercent:  e.PassPercent,
		TimedOut:     timedOut,
		Seed:         e.Seed,
		Questions:    make([]ExamAnswer, len(e.Items)),
	}
	domains := e.DomainCounts()
	for i, it := range e.Items {
		var shown []int
		if i < len(picks) {
			shown = picks[i]
		}
		right := it.Correct(shown)
		a := ExamAnswer{
			ID:      it.Q.Key(),
			Domain:  it.Domain,
			Given:   it.Original(shown),
			Correct: slices.Clone(it.Q.Answers),
			Right:   right,
		}
		if !slices.Equal(it.Order, identity(len(it.Order))) {
			a.Order = slices.Clone(it.Order)
		}
		r.Questions[i] = a
		if right {
			r.Score++
			for j := range domains {
				if domains[j].Domain == it.Domain {
					domains[j].Right++
				}
			}
		}
	}
	r.Domains = domains
	r.Passed = r.Total > 0 && r.Score*100 >= r.PassPercent*r.Total
	return r
}

// QuestionByKey finds a question by its Key ("lesson/question").
func (c *Course) QuestionByKey(key string) (*Question, bool) {
	for _, l := range c.Lessons {
		for i := range l.Quiz {
			if l.Quiz[i].Key() == key {
				return &l.Quiz[i], true
			}
		}
	}
	return nil, false
}

// ReviewItem is one question of a finished exam, ready to show: the learner's
// answer, the right one and, through Question, the explanation.
type ReviewItem struct {
	Number int
	Answer ExamAnswer
	// Question is nil when the course no longer has the question, or its
	// choices changed so the saved answer no longer fits.
	Question *Question
	// Choices are in the order the exam showed them.
	Choices []string
	// Given and Correct are shown positions (0 = a), sorted.
	Given, Correct []int
}

// ChoiceLine is choice i as a review shows it: "b) text", marked
// "<- your answer, right answer" as it applies.
func (it ReviewItem) ChoiceLine(i int) string {
	var tags []string
	if slices.Contains(it.Given, i) {
		tags = append(tags, "your answer")
	}
	if slices.Contains(it.Correct, i) {
		tags = append(tags, "right answer")
	}
	line := Letter(i) + ") " + it.Choices[i]
	if len(tags) > 0 {
		line += "  <- " + strings.Join(tags, ", ")
	}
	return line
}

// Review pairs each answer of r with its question in c.
func (r *ExamResult) Review(c *Course) []ReviewItem {
	out := make([]ReviewItem, len(r.Questions))
	for i, a := range r.Questions {
		it := ReviewItem{Number: i + 1, Answer: a}
		q, ok := c.QuestionByKey(a.ID)
		order := a.Order
		if ok && order == nil {
			order = identity(len(q.Choices))
		}
		if ok && len(order) == len(q.Choices) && validPerm(order) && slices.Equal(q.Answers, a.Correct) {
			it.Question = q
			it.Choices = ExamItem{Q: q, Order: order}.Choices()
			it.Given, it.Correct = toShown(order, a.Given), toShown(order, a.Correct)
		} else {
			// Keep the letters the learner saw, if the order was saved.
			if order == nil || !validPerm(order) {
				order = identity(max(slices.Max(append([]int{-1}, a.Given...)), slices.Max(append([]int{-1}, a.Correct...))) + 1)
			}
			it.Given, it.Correct = toShown(order, a.Given), toShown(order, a.Correct)
		}
		out[i] = it
	}
	return out
}

func validPerm(order []int) bool {
	seen := make([]bool, len(order))
	for _, o := range order {
		if o < 0 || o >= len(order) || seen[o] {
			return false
		}
		seen[o] = true
	}
	return true
}

// ClockText shows a duration the way an exam clock does, in minutes and
// seconds: 90:00, 89:59, 0:05. Negative durations show as 0:00.
func ClockText(d time.Duration) string {
	s := int(max(d, 0).Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
