package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/platform/mesh"
)

func TestMeshApplyFlagsChangeOnlyWhatTheyName(t *testing.T) {
	r := mesh.Rules{Services: map[string]mesh.ServiceRules{"ratings": {Retries: 1}}}
	af := applyFlags{
		mtls:    "on",
		deny:    []string{"reviews:/admin", "reviews:/admin"},
		split:   []string{"reviews=v1:90,v2:10"},
		retries: []string{"reviews=2"},
		timeout: []string{"reviews=500ms"},
	}
	if err := af.apply(&r); err != nil {
		t.Fatal(err)
	}
	rv := r.Services["reviews"]
	if !r.MTLS || len(rv.Deny) != 1 || rv.Deny[0] != "/admin" || rv.Split["v1"] != 90 || rv.Split["v2"] != 10 ||
		rv.Retries != 2 || time.Duration(rv.Timeout) != 500*time.Millisecond {
		t.Errorf("rules after apply: %+v", r)
	}
	if r.Services["ratings"].Retries != 1 {
		t.Errorf("apply dropped the rules of a service it was not asked about: %+v", r.Services["ratings"])
	}
	off := applyFlags{mtls: "off"}
	if err := off.apply(&r); err != nil || r.MTLS || len(r.Services["reviews"].Deny) != 1 {
		t.Errorf("--mtls off: %+v, %v", r, err)
	}
}

func TestMeshApplyFlagErrorsSayWhatToWrite(t *testing.T) {
	for _, tc := range []struct {
		af   applyFlags
		want string
	}{
		{applyFlags{mtls: "yes"}, "use on or off"},
		{applyFlags{deny: []string{"reviews/admin"}}, "SERVICE:PATH"},
		{applyFlags{deny: []string{"reviews:admin"}}, "starting with /"},
		{applyFlags{split: []string{"reviews=v1-90"}}, "VERSION:WEIGHT"},
		{applyFlags{split: []string{"reviews=v1:90,v1:10"}}, "named twice"},
		{applyFlags{split: []string{"reviews=v1:0,v2:0"}}, "add up to 0"},
		{applyFlags{retries: []string{"reviews=99"}}, "0 to 10"},
		{applyFlags{timeout: []string{"reviews=soon"}}, "500ms"},
		{applyFlags{deny: []string{"Reviews:/x"}}, "only a-z"},
	} {
		var r mesh.Rules
		if err := tc.af.apply(&r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.af, err, tc.want)
		}
	}
}

func TestMeshRulesFileRefusesUnknownFields(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"mtls": true, "services": {"reviews": {"deny": ["/admin"], "timeout": "2s"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := readRules(good)
	if err != nil || !r.MTLS || time.Duration(r.Services["reviews"].Timeout) != 2*time.Second {
		t.Fatalf("readRules: %+v, %v", r, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"mlts": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRules(bad); err == nil || !strings.Contains(err.Error(), "mlts") {
		t.Errorf("a misspelt field: %v", err)
	}
}

func TestMeshCommandsWithoutAMeshSayHowToStartOne(t *testing.T) {
	privateState(t)
	for _, args := range [][]string{
		{"mesh", "--name", "kt-none", "rules"},
		{"mesh", "--name", "kt-none", "stats"},
		{"mesh", "--name", "kt-none", "call"},
		{"mesh", "--name", "kt-none", "apply", "--mtls", "on"},
	} {
		code, _, errOut := kcna(t, args...)
		errOut = flat(errOut)
		if code == 0 || !strings.Contains(errOut, "no mesh is running") || !strings.Contains(errOut, "kcna-lab mesh --name kt-none up") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	code, _, errOut := kcna(t, "mesh", "apply")
	if code == 0 || !strings.Contains(flat(errOut), "nothing to apply") {
		t.Errorf("apply with no flags: exit %d, stderr %q", code, errOut)
	}
}

func TestMeshHelpShowsExamples(t *testing.T) {
	privateState(t)
	code, out, _ := kcna(t, "mesh", "apply", "--help")
	if code != 0 || !strings.Contains(out, "--split reviews=v1:90,v2:10") || !strings.Contains(out, "PeerAuthentication") {
		t.Errorf("mesh apply --help: exit %d\n%s", code, out)
	}
	_, out, _ = kcna(t, "mesh", "--help")
	if strings.Contains(out, "sidecar ") && strings.Contains(out, "internal") {
		t.Errorf("the hidden sidecar mode shows in mesh --help:\n%s", out)
	}
}

// flat undoes the error box's line wrapping and capital letter.
func flat(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
