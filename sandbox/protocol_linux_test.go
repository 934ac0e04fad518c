//go:build linux

package sandbox_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// TestInitRefusesAnOlderParentPlainly starts each init, as a kcna-lab of
// protocol 10 would, with that protocol's config: JSON, then the native
// init's form. Both must refuse it, naming both versions, in the JSON
// event that parent reads as well as in a report, and exit 125.
func TestInitRefusesAnOlderParentPlainly(t *testing.T) {
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	const oldProtocol = 10 // the last whose config was JSON
	old := fmt.Sprintf(`{"protocol":%d,"args":["true"],"env":[],"root":"/r","plan":{"ops":[]}}`+"\nKLN\x00", oldProtocol)
	want := fmt.Sprintf("protocol %d, this init %d", oldProtocol, initproc.ProtocolVersion)
	for _, kind := range []string{"go", "native"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "native" {
				if err := testbuild.Native(); err != nil {
					t.Skip(err)
				}
			} else {
				t.Setenv(testbuild.NativeEnv, "0")
			}
			bin, _ := testbuild.Init(t, t.TempDir())
			lines, code := runInit(t, bin, old)
			if code != initproc.ExitFailed {
				t.Errorf("exit status %d, want %d", code, initproc.ExitFailed)
			}
			if len(lines) != 2 {
				t.Fatalf("the init wrote %q; want its refusal as a JSON event, then as a report", lines)
			}
			var e struct {
				Kind  string `json:"kind"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || e.Kind != "result" || !strings.Contains(e.Error, want) {
				t.Errorf("the JSON event %q (%v) does not refuse with %q", lines[0], err, want)
			}
			if r, err := initproc.ParseReport([]byte(lines[1])); err != nil || r.Kind != initproc.ReportFail || r.Text != e.Error {
				t.Errorf("the report %q was read as %+v, %v; want the same refusal", lines[1], r, err)
			}
		})
	}
}

// runInit runs bin as a sandbox's init, outside any namespace, with
// config on its descriptor 3, and returns the lines it wrote on 4 and its
// exit status.
func runInit(t *testing.T, bin, config string) ([]string, int) {
	t.Helper()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := &exec.Cmd{Path: bin, Args: []string{initproc.Arg0}, ExtraFiles: []*os.File{cfgR, evW, null}}
	err = cmd.Start()
	cfgR.Close()
	evW.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = cfgW.WriteString(config)
	cfgW.Close()
	var lines []string
	sc := bufio.NewScanner(evR)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	evR.Close()
	_ = cmd.Wait()
	return lines, cmd.ProcessState.ExitCode()
}
