package sandbox

import (
	"regexp"
	"testing"
)

// TestValidateNameIsItsPattern: the hand-written check accepts exactly
// what ^[a-z0-9][a-z0-9-]{0,30}$ does.
func TestValidateNameIsItsPattern(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)
	names := []string{"", "a", "-a", "a-", "web", "web-1", "Web", "a_b", "a.b", "a b", "é", "0", "s1a2b3",
		"abcdefghijklmnopqrstuvwxyz01234", "abcdefghijklmnopqrstuvwxyz012345", "--", "a\n"}
	for _, n := range names {
		if got, want := ValidateName(n) == nil, re.MatchString(n); got != want {
			t.Errorf("ValidateName(%q) accepts: %v, the pattern: %v", n, got, want)
		}
	}
}
