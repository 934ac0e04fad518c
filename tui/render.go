package tui

import (
	"fmt"

	"charm.land/glamour/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// renderCache holds each lesson rendered by glamour, once per width and
// style: switching back to a lesson or resizing to a width seen before
// costs a map lookup, and View never renders Markdown.
type renderCache struct {
	pages     map[renderKey]string
	renderers map[rendererKey]*glamour.TermRenderer
}

type renderKey struct {
	lesson, style string
	width         int
}

type rendererKey struct {
	style string
	width int
}

func newRenderCache() *renderCache {
	return &renderCache{pages: map[renderKey]string{}, renderers: map[rendererKey]*glamour.TermRenderer{}}
}

// page returns l rendered for width columns in style.
func (c *renderCache) page(l *lessons.Lesson, width int, style string) (string, error) {
	k := renderKey{lesson: l.ID, style: style, width: width}
	if s, ok := c.pages[k]; ok {
		return s, nil
	}
	rk := rendererKey{style: style, width: width}
	r := c.renderers[rk]
	if r == nil {
		var err error
		r, err = glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(max(width-2, 20)))
		if err != nil {
			return "", fmt.Errorf("markdown renderer: %w", err)
		}
		c.renderers[rk] = r
	}
	s, err := r.Render(l.Document())
	if err != nil {
		return "", fmt.Errorf("render lesson %s: %w", l.ID, err)
	}
	c.pages[k] = s
	return s, nil
}
