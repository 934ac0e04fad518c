package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// BenchmarkFirstFrame is the work between process start and the first full
// frame: load and validate the built-in course, build the app, size it and
// draw the course map. Target: well under 150 ms.
func BenchmarkFirstFrame(b *testing.B) {
	for b.Loop() {
		c, probs := parse.Load(content.FS, demos.Builtin())
		if len(probs) > 0 {
			b.Fatal(probs)
		}
		var m tea.Model = New(Options{Course: c, Progress: lessons.NewProgress()})
		m, _ = m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		_ = m.View()
	}
}

// BenchmarkFirstLessonOpen is opening a lesson for the first time at a new
// width: the one glamour render it costs.
func BenchmarkFirstLessonOpen(b *testing.B) {
	c, _ := parse.Load(content.FS, demos.Builtin())
	for b.Loop() {
		var m tea.Model = New(Options{Course: c})
		m, _ = m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		m, _ = m.Update(openLessonMsg{index: 0})
		_ = m.View()
	}
}

// BenchmarkSwitchLesson switches between two lessons already opened at this
// width: it must come from the render cache, within one frame (16 ms).
func BenchmarkSwitchLesson(b *testing.B) {
	c, _ := parse.Load(content.FS, demos.Builtin())
	var m tea.Model = New(Options{Course: c})
	m, _ = m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m, _ = m.Update(openLessonMsg{index: 0})
	m, _ = m.Update(openLessonMsg{index: 1})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m, _ = m.Update(openLessonMsg{index: i % 2})
		_ = m.View()
	}
}
