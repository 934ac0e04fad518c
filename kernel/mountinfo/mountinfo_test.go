package mountinfo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory
41 22 0:40 / /run/kcna\040lab/merged rw - overlay overlay rw,lowerdir=/a:/b,upperdir=/u,workdir=/w
44 22 254:0 /var/tmp/data /data ro,relatime - ext4 /dev/vda rw
bad line
`
	ms, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d mounts, want 4: %+v", len(ms), ms)
	}
	if m := ms[2]; m.Point != "/run/kcna lab/merged" || m.FSType != "overlay" || !strings.Contains(m.SuperOptions, "lowerdir=/a:/b") {
		t.Errorf("overlay line: %+v", m)
	}
	if m := ms[3]; m.Device != "254:0" || m.Root != "/var/tmp/data" || m.Point != "/data" {
		t.Errorf("bind line: %+v", m)
	}
	if m := ms[1]; m.SuperOptions != "rw,memory" || m.FSType != "cgroup" {
		t.Errorf("cgroup line: %+v", m)
	}
	if u := Under(ms, "/run/kcna lab"); len(u) != 1 || u[0].FSType != "overlay" {
		t.Errorf("Under: %+v", u)
	}
	if u := Under(ms, "/"); len(u) != 4 {
		t.Errorf("Under /: %d mounts", len(u))
	}
	if Within("/data", "/database") {
		t.Error("/database is not within /data")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `tab\011x`: "tab\tx", `back\134slash`: `back\slash`, `end\04`: `end\04`, `plain`: "plain"} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadSelf reads this process's own mounts, as the kernel lists them.
func TestReadSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc/self/mountinfo: not Linux")
	}
	ms, err := Read("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	root := false
	for _, m := range ms {
		root = root || m.Point == "/"
	}
	if !root {
		t.Errorf("no mount at / among %d", len(ms))
	}
}

// TestReadUnderIsUnder: parsing only the lines that name a directory
// finds what parsing them all and keeping those under it finds, for paths
// mountinfo escapes too.
func TestReadUnderIsUnder(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
41 22 0:40 / /run/kcna\040lab/merged rw - overlay overlay rw,lowerdir=/a:/b,upperdir=/u,workdir=/w
42 22 0:41 / /run/kcna\040lab rw - tmpfs tmpfs rw
43 22 0:42 / /run/kcna\040labs rw - tmpfs tmpfs rw
44 22 254:0 /run/kcna\040lab /data ro,relatime - ext4 /dev/vda rw
45 22 0:43 / /tab\011dir\134x rw - tmpfs tmpfs rw
`
	path := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"/run/kcna lab", "/run", "/run/kcna lab/merged", "/tab\tdir\\x", "/data", "/", "/nowhere"} {
		got, err := ReadUnder(path, dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := Under(all, dir); !reflect.DeepEqual(got, want) {
			t.Errorf("ReadUnder(%q) = %+v, want %+v", dir, got, want)
		}
	}
	if got, _ := ReadUnder(path, "/run/kcna lab"); len(got) != 2 {
		t.Errorf("/run/kcna lab: %d mounts, want its own and the overlay below it", len(got))
	}
}
