package initproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// A Report is what an init tells the parent, one line each on FDEvents:
// its kind, its numbers in reportForms' order, and, for a kind that has
// one, a text to the end of the line ("step 12 0 41250",
// "fail start /bin/x: no such file or directory"). A step is reported by
// its index in the plan, not its words: the parent, which wrote the plan,
// narrates it (Plan.Event), so the words cross no pipe and are spelled in
// Go alone.
type Report struct {
	Kind ReportKind
	// Op is the index in Plan.Ops of the step reported; Part which of
	// its events (PartMain, ...).
	Op, Part int64
	Took     time.Duration
	// Code and Signal are how the command ended: its exit status in the
	// shell's convention, and the number of the signal that ended it or 0.
	Code, Signal int64
	// Text is a failed step's error, a failure's, or a sentence of the
	// init's own.
	Text string
}

// ReportKind is what a report says.
type ReportKind string

// The reports.
const (
	ReportStep    ReportKind = "step"    // the step Op (its event Part) was taken; Text is its error
	ReportNarrate ReportKind = "narrate" // the step Op's Text is for the learner (OpNarrate, OpIfFile)
	ReportSay     ReportKind = "say"     // a sentence of the init's own, in Text
	ReportReady   ReportKind = "ready"   // the sandbox is built: the command starts
	ReportExit    ReportKind = "exit"    // the command ended: Code, Signal
	ReportFail    ReportKind = "fail"    // the init could not build the sandbox or start the command: Text
)

// A step's events, by the Part of its report.
const (
	PartMain = 0 // Action and Shell
	PartAlt  = 1 // AltAction and AltShell
	// PartJoin is OpTimeNS's third event, the native init's alone: it
	// moves PID 1 itself into the time namespace, which setns lets only a
	// single-threaded process do (native.c, join_time).
	PartJoin = 2
)

// joinAction and joinShell narrate PartJoin.
const (
	joinAction = "setns(/proc/self/ns/time_for_children, CLONE_NEWTIME)"
	joinShell  = "nsenter --time=/proc/self/ns/time_for_children"
)

// ReportForm is one kind of report's line: the numbers after the kind, by
// the name of their Report field, and what its text is ("" for none).
type ReportForm struct {
	Kind ReportKind
	Nums []string
	Text string
}

var reportForms = []ReportForm{
	{ReportStep, []string{"op", "part", "took_ns"}, "the error, if it failed"},
	{ReportNarrate, []string{"op"}, ""},
	{ReportSay, nil, "the sentence"},
	{ReportReady, nil, ""},
	{ReportExit, []string{"code", "signal"}, ""},
	{ReportFail, nil, "the error"},
}

// ReportForms are every report's line, for internal/gen.
func ReportForms() []ReportForm { return reportForms }

func formOf(k ReportKind) (ReportForm, bool) {
	for _, f := range reportForms {
		if f.Kind == k {
			return f, true
		}
	}
	return ReportForm{}, false
}

// num is the Report field a form's number names.
func (r *Report) num(name string) *int64 {
	switch name {
	case "op":
		return &r.Op
	case "part":
		return &r.Part
	case "took_ns":
		return (*int64)(&r.Took)
	case "code":
		return &r.Code
	case "signal":
		return &r.Signal
	}
	panic("initproc: a report form names no field " + name)
}

// textEscapes keep a report's text on its line.
var (
	escapeText   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	unescapeText = strings.NewReplacer(`\\`, `\`, `\n`, "\n")
)

// AppendLine appends r as a line.
func (r Report) AppendLine(b []byte) []byte {
	f, _ := formOf(r.Kind)
	b = append(b, r.Kind...)
	for _, n := range f.Nums {
		b = strconv.AppendInt(append(b, ' '), *r.num(n), 10)
	}
	if f.Text != "" && r.Text != "" {
		b = append(append(b, ' '), escapeText.Replace(r.Text)...)
	}
	return append(b, '\n')
}

// ParseReport reads one line (without its newline) that AppendLine wrote,
// or the native init. A line of JSON is an event of an init from before
// reports (protocol 10 and older): its error, if it has one, is read as a
// failure, so that its refusal of this build's plan still reaches the
// learner.
func ParseReport(line []byte) (Report, error) {
	if bytes.HasPrefix(line, []byte("{")) {
		var old struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(line, &old); err != nil || old.Error == "" {
			return Report{}, fmt.Errorf("a line of JSON without an error: %q", line)
		}
		return Report{Kind: ReportFail, Text: old.Error}, nil
	}
	kind, rest, _ := bytes.Cut(line, []byte(" "))
	r := Report{Kind: ReportKind(kind)}
	f, ok := formOf(r.Kind)
	if !ok {
		return r, fmt.Errorf("a report of an unknown kind: %q", line)
	}
	for _, n := range f.Nums {
		var word []byte
		word, rest, _ = bytes.Cut(rest, []byte(" "))
		v, err := strconv.ParseInt(string(word), 10, 64)
		if err != nil {
			return r, fmt.Errorf("report %q: %s: %w", line, n, err)
		}
		*r.num(n) = v
	}
	if f.Text == "" && len(rest) > 0 {
		return r, fmt.Errorf("report %q: text after the numbers", line)
	}
	r.Text = unescapeText.Replace(string(rest))
	return r, nil
}

// Event is what the learner reads for r, a report of the init that
// carries out p: a step or a narration in p's own words. ok is false for
// a report that is no event (ready, exit, fail) or names no event of p.
func (p *Plan) Event(r Report) (e event.Event, ok bool) {
	var op *Op
	if r.Kind == ReportStep || r.Kind == ReportNarrate {
		if p == nil || r.Op < 0 || r.Op >= int64(len(p.Ops)) {
			return e, false
		}
		op = &p.Ops[r.Op]
	}
	switch r.Kind {
	case ReportStep:
		e = event.Event{Kind: event.KindStep, Err: r.Text, Took: r.Took}
		switch r.Part {
		case PartMain:
			e.Action, e.Shell = op.Action, op.Shell
		case PartAlt:
			e.Action, e.Shell = op.AltAction, op.AltShell
		case PartJoin:
			e.Action, e.Shell = joinAction, joinShell
		default:
			return e, false
		}
		return e, true
	case ReportNarrate:
		return event.Event{Kind: event.KindNarration, Text: op.Text}, true
	case ReportSay:
		return event.Event{Kind: event.KindNarration, Text: r.Text}, true
	}
	return e, false
}
