//go:build linux

package seccomp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	moby "github.com/moby/profiles/seccomp"
)

func writeProfile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadNames(t *testing.T) {
	for _, v := range []string{"", Default} {
		if p, err := Load(v); err != nil || p == nil || p.Name != Default {
			t.Errorf("Load(%q) = %+v, %v; want Docker's default", v, p, err)
		}
	}
	if p, err := Load(Unconfined); p != nil || err != nil {
		t.Errorf("Load(unconfined) = %+v, %v; want no profile", p, err)
	}
}

// TestDockerProfileAsAFile: Docker's default profile, written out as the
// JSON file Docker ships (moby's default.json), reads back and compiles
// to the same program as the built-in one.
func TestDockerProfileAsAFile(t *testing.T) {
	b, err := json.MarshalIndent(moby.DefaultProfile(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(writeProfile(t, string(b)))
	if err != nil {
		t.Fatalf("Docker's own profile as a file: %v", err)
	}
	resolved, err := p.Resolve(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	f, err := compile(resolved, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if want := dockerFilter(t, dockerCaps); !slices.Equal(f.Program, want.Program) {
		t.Errorf("the file compiles to %d instructions, the built-in profile to %d: want the same program", len(f.Program), len(want.Program))
	}
}

// TestLoadSaysWhatAndWhere: a mistake in a profile file is reported with
// its line and column, and what is wrong in words.
func TestLoadSaysWhatAndWhere(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"syntax", "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"] \"action\": \"SCMP_ACT_ALLOW\"}\n  ]\n}\n",
			":4:24: not valid JSON: invalid character '\"' after object key:value pair"},
		{"type", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": \"0\", \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
			":3:21: syscalls.args.index: a JSON string where Docker's format wants uint"},
		{"misspelt field", "{\n  \"defaultAktion\": \"SCMP_ACT_ERRNO\"\n}",
			":2:3: field \"defaultAktion\" is not in Docker's seccomp format"},
		{"action", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [\n  {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},\n  {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_DENY\"}\n ]}",
			":4:3: syscalls[1]: action: \"SCMP_ACT_DENY\" is not a seccomp action; use one of SCMP_ACT_ALLOW"},
		{"default action", "{\"defaultAction\": \"ERRNO\", \"syscalls\": []}",
			":1:2: defaultAction: \"ERRNO\" is not a seccomp action"},
		{"no default action", "{\"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
			"defaultAction: no action; use one of"},
		{"empty", "{}", ":1:1: no defaultAction and no syscalls"},
		{"operator", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_IS\"}]}]}",
			"syscalls[0]: args op \"SCMP_CMP_IS\" is not a comparison"},
		{"argument", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 6, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]}]}",
			"syscalls[0]: args index 6: a system call has six arguments, 0 to 5"},
		{"architecture", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"architectures\": [\"x86_64\"]}",
			":2:2: architectures: \"x86_64\" is not an architecture; names look like SCMP_ARCH_X86_64"},
		{"no names", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"action\": \"SCMP_ACT_ALLOW\"}]}",
			"syscalls[0]: no \"names\""},
		{"notify", "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}",
			"defaultAction: SCMP_ACT_NOTIFY hands the call to a seccomp agent"},
		{"errno", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}",
			"defaultAction: errnoRet 70000: the kernel passes on errno values up to 4095"},
		{"trailing", "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}\n{}",
			":2:2: more JSON after the profile's closing brace"},
		{"truncated", "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n", ":2:1: the profile ends too early"},
	} {
		path := writeProfile(t, c.body)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "seccomp profile "+path+":") {
			t.Errorf("%s: Load said %v; want an error that starts with the file and contains %q", c.name, err, c.want)
		}
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), "default, unconfined or a FILE") {
		t.Errorf("a missing file: %v; want the reason and what --seccomp takes", err)
	}
}
