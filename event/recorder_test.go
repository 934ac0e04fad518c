package event

import "testing"

func TestRecorderKeepsEventsInOrderAndByKind(t *testing.T) {
	var r Recorder
	Narrate(&r, "one")
	_ = Step(&r, "two", "true", func() error { return nil })
	Narrate(&r, "three")
	if got := r.Events(); len(got) != 3 || got[0].Text != "one" || got[1].Action != "two" || got[2].Text != "three" {
		t.Fatalf("events out of order or missing: %+v", got)
	}
	if n := r.Of(KindNarration); len(n) != 2 || n[1].Text != "three" {
		t.Fatalf("Of(narration) = %+v", n)
	}
}
