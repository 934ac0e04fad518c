//go:build linux

package initproc

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// testPlan is a plan with every kind of field set: a seccomp program, a
// time namespace, volumes by path and by descriptor, a narration.
func testPlan(t *testing.T) *Plan {
	t.Helper()
	prog := []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f} // ret SECCOMP_RET_ALLOW
	c := &Config{
		Args: []string{"sh", "-c", "echo hi"}, Env: []string{"PATH=/bin", "A="}, Hostname: "h", Dir: "/work",
		Root: "/r", Rootfs: "/fs", RootMode: RootPivot, ReadOnly: true,
		Volumes:   []Volume{{Host: "/h1", Target: "/a", ReadOnly: true}, {Host: "/h2", Target: "/b"}},
		VolumeFDs: []int{0, 7}, ResolvConf: "/etc/kl-resolv",
		Isolate: []Namespace{NSPid, NSUTS, NSMount, NSIPC, NSNet, NSUser, NSCgroup, NSTime}, Seccomp: &SeccompFilter{Program: prog, Flags: 2, Shell: "docker run"},
	}
	p, err := BuildPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanCrossesTheWireWithoutItsWords: the init gets every field it
// carries out and none of the narration, which stays with the parent.
func TestPlanCrossesTheWireWithoutItsWords(t *testing.T) {
	p := testPlan(t)
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalPlan(b)
	if err != nil {
		t.Fatal(err)
	}
	want := *p
	want.Ops = make([]Op, len(p.Ops))
	for i, op := range p.Ops {
		op.Action, op.Shell, op.AltAction, op.AltShell, op.Text = "", "", "", "", ""
		want.Ops[i] = op
	}
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("the plan came back as\n%+v\nwant\n%+v", got, &want)
	}
	for _, op := range p.Ops {
		for _, words := range []string{op.Action, op.Shell, op.Text} {
			if len(words) > 8 && strings.Contains(string(b), words) {
				t.Errorf("the wire carries the narration %q", words)
			}
		}
	}
	if n := strings.Count(string(b), string(p.Ops[len(p.Ops)-1].Filter)); n != 1 {
		t.Errorf("the seccomp program is on the wire %d times; want once", n)
	}
}

// TestPlanRefusesWhatItCannotRead: a plan cut anywhere, with bytes after
// it, or from another protocol is refused, with both versions named.
func TestPlanRefusesWhatItCannotRead(t *testing.T) {
	b, err := testPlan(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for n := len(ProtocolLine); n < len(b); n++ {
		if _, err := UnmarshalPlan(b[:n]); err == nil {
			t.Fatalf("a plan cut to %d of %d bytes was read", n, len(b))
		}
	}
	if _, err := UnmarshalPlan(append(b, 0)); err == nil || !strings.Contains(err.Error(), "after the plan") {
		t.Errorf("a byte after the plan: %v", err)
	}
	// As protocol 10 and before sent it: JSON, then the native init's form.
	old := fmt.Sprintf(`{"protocol":%d,"args":["true"]}`+"\nKLN\x00", ProtocolVersion-1)
	if _, err := UnmarshalPlan([]byte(old)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("protocol %d, this init %d", ProtocolVersion-1, ProtocolVersion)) {
		t.Errorf("a plan of the protocol before: %v", err)
	}
	if _, err := UnmarshalPlan([]byte("hello\n")); err == nil || !strings.Contains(err.Error(), "not from kcna-lab") {
		t.Errorf("not a plan: %v", err)
	}
	p := testPlan(t)
	p.Args = []string{"a\x00b"}
	if _, err := p.Marshal(); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("an argument with a NUL byte: %v", err)
	}
}

// TestReportsKeepTheirText: every kind of report comes back as sent, a
// text with newlines and backslashes on one line.
func TestReportsKeepTheirText(t *testing.T) {
	for _, r := range []Report{
		{Kind: ReportStep, Op: 12, Part: PartAlt, Took: 41250 * time.Nanosecond},
		{Kind: ReportStep, Op: 3, Took: time.Millisecond, Text: `mkdir /a\b: no such file or directory`},
		{Kind: ReportNarrate, Op: 7},
		{Kind: ReportSay, Text: "two\nlines \\n"},
		{Kind: ReportReady},
		{Kind: ReportExit, Code: 137, Signal: 9},
		{Kind: ReportFail, Text: "start /bin/x: no such file or directory"},
	} {
		line := r.AppendLine(nil)
		if strings.Count(string(line), "\n") != 1 || line[len(line)-1] != '\n' {
			t.Errorf("%+v is not one line: %q", r, line)
		}
		got, err := ParseReport(line[:len(line)-1])
		if err != nil || got != r {
			t.Errorf("%q came back as %+v, %v; want %+v", line, got, err, r)
		}
	}
	// An init from before reports refuses this build's plan in JSON.
	old := `{"time":"0001-01-01T00:00:00Z","kind":"result","error":"protocol 11, want 10"}`
	if r, err := ParseReport([]byte(old)); err != nil || r != (Report{Kind: ReportFail, Text: "protocol 11, want 10"}) {
		t.Errorf("the JSON refusal of an older init was read as %+v, %v", r, err)
	}
	for _, bad := range []string{"", "stepp 1 0 0", "step 1 0", "step x 0 0", "ready now", "exit 1", `{"kind":"ready"}`} {
		if r, err := ParseReport([]byte(bad)); err == nil {
			t.Errorf("%q was read as %+v", bad, r)
		}
	}
}

// TestPlanWordsEveryReport: the parent narrates each report in the plan's
// words, as the init used to send them.
func TestPlanWordsEveryReport(t *testing.T) {
	p := testPlan(t)
	at := func(k OpKind) int64 {
		for i, op := range p.Ops {
			if op.Kind == k {
				return int64(i)
			}
		}
		t.Fatalf("no step %s in the plan", k)
		return 0
	}
	mask, timens := p.Ops[at(OpMask)], p.Ops[at(OpTimeNS)]
	for _, c := range []struct {
		r    Report
		want event.Event
	}{
		{Report{Kind: ReportStep, Op: at(OpMask), Took: 5}, event.Event{Kind: event.KindStep, Action: mask.Action, Shell: mask.Shell, Took: 5}},
		{Report{Kind: ReportStep, Op: at(OpMask), Part: PartAlt, Text: "busy"}, event.Event{Kind: event.KindStep, Action: mask.AltAction, Shell: mask.AltShell, Err: "busy"}},
		{Report{Kind: ReportStep, Op: at(OpTimeNS), Part: PartAlt}, event.Event{Kind: event.KindStep, Action: "write /proc/self/timens_offsets", Shell: timens.AltShell}},
		{Report{Kind: ReportStep, Op: at(OpTimeNS), Part: PartJoin}, event.Event{Kind: event.KindStep, Action: joinAction, Shell: joinShell}},
		{Report{Kind: ReportNarrate, Op: at(OpIfFile)}, event.Event{Kind: event.KindNarration, Text: p.Ops[at(OpIfFile)].Text}},
		{Report{Kind: ReportSay, Text: "own words"}, event.Event{Kind: event.KindNarration, Text: "own words"}},
	} {
		if got, ok := p.Event(c.r); !ok || got != c.want {
			t.Errorf("%+v was worded %+v, %v; want %+v", c.r, got, ok, c.want)
		}
	}
	if !strings.HasPrefix(timens.AltShell, "unshare --time --boottime -") || !strings.Contains(timens.Data, "monotonic -") {
		t.Errorf("the time namespace's offsets: shell %q, data %q", timens.AltShell, timens.Data)
	}
	for _, r := range []Report{
		{Kind: ReportStep, Op: int64(len(p.Ops))}, {Kind: ReportNarrate, Op: -1},
		{Kind: ReportStep, Part: 3}, {Kind: ReportReady}, {Kind: ReportExit}, {Kind: ReportFail, Text: "x"},
	} {
		if e, ok := p.Event(r); ok {
			t.Errorf("%+v was worded %+v; want no event", r, e)
		}
	}
	if _, ok := (*Plan)(nil).Event(Report{Kind: ReportStep}); ok {
		t.Error("a step reported before any plan was worded")
	}
}
