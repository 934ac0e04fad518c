package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDockerfile(t *testing.T) {
	src := `# a comment
FROM busybox

COPY a.txt \
     b.txt /app/
RUN echo one && \
    # a comment inside a continued line
    echo two
ENV A=1 B="two words"
ENV OLD style value
WORKDIR app
CMD ["cat", "/app/a.txt"]
entrypoint /bin/sh -c
LABEL org.opencontainers.image.title=hello
`
	df, err := ParseDockerfile("Dockerfile", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, in := range df.Instructions {
		cmds = append(cmds, in.Cmd)
	}
	if want := []string{"FROM", "COPY", "RUN", "ENV", "ENV", "WORKDIR", "CMD", "ENTRYPOINT", "LABEL"}; !slices.Equal(cmds, want) {
		t.Fatalf("instructions %v; want %v", cmds, want)
	}
	in := df.Instructions
	if in[1].Line != 4 || !slices.Equal(in[1].Args, []string{"a.txt", "b.txt", "/app/"}) {
		t.Errorf("COPY at line %d with %q; want line 4, [a.txt b.txt /app/]", in[1].Line, in[1].Args)
	}
	if got := in[2].command(); !slices.Equal(got, []string{"/bin/sh", "-c", "echo one &&      echo two"}) {
		t.Errorf("RUN command %q", got)
	}
	kv, _ := keyValues(in[3])
	if len(kv) != 2 || kv[1] != [2]string{"B", "two words"} {
		t.Errorf("ENV pairs %q", kv)
	}
	if kv, _ := keyValues(in[4]); len(kv) != 1 || kv[0] != [2]string{"OLD", "style value"} {
		t.Errorf("old-style ENV %q", kv)
	}
	if !in[6].JSON || !slices.Equal(in[6].command(), []string{"cat", "/app/a.txt"}) {
		t.Errorf("CMD exec form %q", in[6].command())
	}
	if got := resolveDir("/srv", "app"); got != "/srv/app" {
		t.Errorf("WORKDIR app under /srv = %s", got)
	}
}

// TestParseDockerfileErrors: each mistake is named with the file and the
// line it is on, and says what to do.
func TestParseDockerfileErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"FROM busybox\n\nADD x /x\n", "Dockerfile:3: ADD is not in the subset kcna-lab builds"},
		{"FROM busybox\nFETCH x\n", `Dockerfile:2: unknown instruction "FETCH"`},
		{"FROM alpine\n", "Dockerfile:1: FROM alpine: kcna-lab pulls no base images"},
		{"RUN true\n", "Dockerfile:1: the first instruction must be FROM"},
		{"FROM busybox\nFROM scratch\n", "Dockerfile:2: a second FROM"},
		{"FROM busybox\nCOPY --chown=1 a /a\n", "Dockerfile:2: COPY --chown=1: the flag is not supported"},
		{"FROM busybox\nCOPY a b c\n", "Dockerfile:2: COPY a b c: with several sources"},
		{"FROM busybox\nCMD [\"sh\",\n", "Dockerfile:2: CMD"},
		{"FROM busybox\nLABEL novalue\n", `Dockerfile:2: LABEL novalue: "novalue" is not KEY=VALUE`},
		{"FROM busybox\nUSER nobody\n", "Dockerfile:2: USER is not in the subset"},
		{"# only a comment\n", "no instructions"},
	} {
		_, err := ParseDockerfile("Dockerfile", strings.NewReader(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want it to contain %q", c.src, err, c.want)
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hello", "hello:latest"},
		{"hello:1", "hello:1"},
		{"lab/hello:v1.2", "lab/hello:v1.2"},
		{"127.0.0.1:5000/hello:1", "127.0.0.1:5000/hello:1"},
		{"localhost/hello", "localhost/hello:latest"},
	} {
		r, err := ParseRef(c.in)
		if err != nil || r.String() != c.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %s", c.in, r, err, c.want)
		}
	}
	for _, bad := range []string{"Hello:1", "hello:", "hello@sha256:abc", "a//b", ""} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

// TestOpenRemovesOnlyStaleLeftovers: a temporary blob or half-unpacked
// layer older than an hour is a crash's and goes; a fresh one may be a
// build under way and stays, as do the blobs themselves.
func TestOpenRemovesOnlyStaleLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(s.Layout(), "blobs", "sha256")
	old := time.Now().Add(-2 * time.Hour)
	paths := map[string]bool{ // path: should survive
		filepath.Join(blobs, ".layer-old"):            false,
		filepath.Join(blobs, ".layer-new"):            true,
		filepath.Join(blobs, strings.Repeat("a", 64)): true,
		filepath.Join(dir, "unpacked", ".unpack-old"): false,
		filepath.Join(dir, "unpacked", "abc-host"):    true,
	}
	for p := range paths {
		if strings.Contains(p, "unpack") || strings.HasSuffix(p, "-host") {
			if err := os.Mkdir(p, 0o555); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(p, "-new") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	for p, keep := range paths {
		if _, err := os.Lstat(p); (err == nil) != keep {
			t.Errorf("%s: exists %v, want %v", p, err == nil, keep)
		}
	}
	_ = os.Chmod(filepath.Join(dir, "unpacked", "abc-host"), 0o755)
}
