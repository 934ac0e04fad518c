package tui

import (
	"time"

	"github.com/charmbracelet/colorprofile"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// common is the state every screen shares. Screens hold a pointer to it
// and read it; only the root model changes size, colours and progress.
type common struct {
	opts     Options
	course   *lessons.Course
	progress *lessons.Progress
	styles   Styles
	renders  *renderCache
	// now is the clock, replaceable in tests.
	now func() time.Time

	width, height int
	dark          bool
	profile       colorprofile.Profile
	// saveErr is the latest failure to save progress, shown in the footer.
	saveErr error
	// cannotRun says, by lesson id, why this host cannot run the
	// lesson's challenges (the lab's Limits); empty until it has said.
	cannotRun map[string]string
	// limitsAsked is set once the lab has been asked for them.
	limitsAsked bool
	// ws is the workshop server's side: activity, notice, pace.
	ws workshopState
}

// status is where the learner stands in l on this host: a lesson whose
// challenges cannot run here is "done here" without them.
func (c *common) status(l *lessons.Lesson) lessons.Status {
	return c.progress.StatusHere(l, c.cannotRun[l.ID])
}

func newCommon(o Options) *common {
	p := o.Progress
	if p == nil {
		p = lessons.NewProgress()
	}
	c := &common{
		opts:     o,
		course:   o.Course,
		progress: p,
		renders:  newRenderCache(),
		now:      time.Now,
		dark:     true, // until the terminal says otherwise
		profile:  colorprofile.TrueColor,
		width:    80,
		height:   24,
	}
	c.styles = newStyles(c.dark)
	return c
}

// glamourStyle is the Markdown style for the terminal: plain when colours
// are off (NO_COLOR or a dumb terminal), else by background.
func (c *common) glamourStyle() string {
	switch {
	case c.profile <= colorprofile.Ascii:
		return "notty"
	case c.dark:
		return "dark"
	default:
		return "light"
	}
}
