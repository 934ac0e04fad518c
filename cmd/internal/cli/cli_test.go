package cli

import (
	"errors"
	"strings"
	"testing"

	"charm.land/fang/v2"
)

// The error handler prints the message as written: no capital, no full
// stop, no wrapping at a hyphen (TestErrorsPrintAsWritten in
// cmd/kcna-lab-full runs it through a whole command).
func TestHandleErrorPrintsAsWritten(t *testing.T) {
	var b strings.Builder
	handleError(&b, fang.Styles{}, errors.New("open /home/ana/kcna: permission denied"))
	if !strings.Contains(b.String(), "open /home/ana/kcna: permission denied\n") {
		t.Errorf("handleError printed %q", b.String())
	}
}

// A hand-over prints nothing: the full program will say it all.
func TestHandleErrorSilentOnHandOver(t *testing.T) {
	var b strings.Builder
	handleError(&b, fang.Styles{}, WithCode(ErrHandOver, RunFailed))
	if b.Len() != 0 {
		t.Errorf("handleError printed %q for a hand-over", b.String())
	}
	if ExitStatus(ExitError{Code: 3}) != 3 || ExitStatus(WithCode(errors.New("x"), RunFailed)) != RunFailed {
		t.Error("ExitStatus lost an exit status")
	}
}
