package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/workshop"
	"github.com/kcna-lab/kcna-lab/workshop/classweb"
	"github.com/kcna-lab/kcna-lab/workshop/dashboard"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

type serveFlags struct {
	listen, state, classCode, memory, shard string
	instructorKeys, http                    string
	dashboard                               bool
	maxStudents, pids                       int
	cpus                                    float64
	idle, linger                            time.Duration
}

func newServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the course to a whole class over SSH, each student in a lab of their own",
		Long: `serve turns this Linux machine into a workshop server: every student joins
with nothing but ssh, under their own name, and gets the full course, its CLI
and a lab of their own.

A student's lab is their "host": a user namespace with a uid range nobody
else has, and its own mount, PID, network, IPC, UTS and cgroup namespaces,
with the server's /usr and /etc read-only, a home that keeps their progress,
and a cgroup holding their quota. Every sandbox they start runs inside it,
so the jails the course teaches them to break out of land them in their own
lab, never on the server or with a classmate.

The first SSH key that joins under a name is pinned to it: nobody else can
take over that student's progress. With --class-code, a new name must give
the code once (ssh asks for it) before its key is pinned, and students
without a key can join by the code alone.

The class lives in --state: the server's host key (made on first start and
kept), the roll of names and keys, and each student's home. Stop the server
with Ctrl-C or SIGTERM: students are told, their sandboxes stopped, their
progress saved. If it was killed instead, ` + "`kcna-lab clean`" + ` removes what its labs left.

With --content DIR, every student gets the instructor's course instead of the
built-in one, read-only in their lab; its challenges' checks: run there, where
"the host" is the student's lab. serve refuses a course with lint-content
problems or files the labs cannot read, and lists what its checks run.`,
		Example: `  # on the instructor's Linux VM
  sudo kcna-lab serve --listen :2222 --class-code k8s-rocks

  # each student
  ssh -p 2222 alice@lab-server
  ssh -p 2222 alice@lab-server -- progress
  ssh -p 2222 alice@lab-server -- run -- hostname

  # the instructor's own course (kcna-lab lint-content checks it first)
  sudo kcna-lab serve --content /srv/my-course`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli.LongLived()
			return a.serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":2222", "the SSH address to listen on, HOST:PORT")
	fl.StringVar(&f.state, "state", "/var/lib/kcna-lab/class", "the class directory: host key, roll of students, their homes")
	fl.StringVar(&f.classCode, "class-code", os.Getenv("KCNA_LAB_CLASS_CODE"), "a code a new student gives once before their key is pinned; also admits students without a key (default $KCNA_LAB_CLASS_CODE)")
	fl.IntVar(&f.maxStudents, "max-students", 40, "students connected at once; the next is told the class is full")
	fl.StringVar(&f.memory, "student-memory", "1G", "each student's memory: their lab, course and every sandbox together")
	fl.IntVar(&f.pids, "student-pids", 1024, "each student's processes and threads, all together")
	fl.Float64Var(&f.cpus, "student-cpus", 1, "each student's CPU time, in CPUs")
	fl.DurationVar(&f.idle, "idle", 2*time.Hour, "close a connection with no keystroke or output for this long (0: never)")
	fl.DurationVar(&f.linger, "linger", 2*time.Minute, "keep a student's lab and sandboxes this long after their last session ends, so one command's sandbox is there for the next")
	fl.StringVar(&f.instructorKeys, "instructor-key", "", "an authorized_keys file of the instructors' keys: `ssh -p PORT instructor@HOST` with one opens the class's dashboard")
	fl.StringVar(&f.http, "http", "", "HOST:PORT for the read-only class page for a projector (e.g. 127.0.0.1:8088; off by default); off loopback it needs the token printed at start")
	fl.BoolVar(&f.dashboard, "dashboard", false, "show the class's dashboard in this terminal (the server's log then goes to STATE/server.log); quitting it stops the server")
	fl.StringVar(&f.shard, "shard", "", "INDEX/COUNT: serve only the names in this shard of a class split over servers (INDEX auto: the -N at the end of the hostname)")
	return cmd
}

func (a *app) serve(ctx context.Context, f *serveFlags) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	opts.Log = a.stderr
	if a.contentDir != "" {
		if opts.Content, err = a.classContent(); err != nil {
			return err
		}
	}
	if opts.Course, err = a.course(); err != nil {
		return err
	}
	if f.dashboard {
		logf, err := openServerLog(f.state)
		if err != nil {
			return err
		}
		defer logf.Close()
		opts.Log = logf
	}
	srv, err := workshop.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? choose another with --listen)", f.listen, err)
	}
	fmt.Fprintf(a.stdout, "kcna-lab workshop server on %s, class in %s\n", ln.Addr(), f.state)
	fmt.Fprintf(a.stdout, "Students join with: ssh -p %s NAME@THIS-HOST   (each quota: %s memory, %d processes, %g CPUs)\n",
		port(ln.Addr()), f.memory, f.pids, f.cpus)
	if opts.ClassCode != "" {
		fmt.Fprintln(a.stdout, "New names must give the class code once.")
	}
	if len(opts.InstructorKeys) > 0 {
		fmt.Fprintf(a.stdout, "Instructors (%d keys) open the dashboard with: ssh -p %s instructor@THIS-HOST\n", len(opts.InstructorKeys), port(ln.Addr()))
	}
	if f.http != "" {
		closeWeb, err := a.serveClassPage(f.http, srv)
		if err != nil {
			return err
		}
		defer closeWeb()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.dashboard {
		var closeDashboard func()
		ctx, closeDashboard = a.localDashboard(ctx, srv)
		defer closeDashboard()
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "Workshop server stopped; every lab is gone and every student's progress saved.")
	return nil
}

// classContent checks the instructor's course (--content) before any
// student sees it: no lint-content problems, and files every lab can
// read (a lab's root is an unprivileged user on the server). It says
// what the course's checks will run, and returns its absolute path.
func (a *app) classContent() (string, error) {
	dir, err := filepath.Abs(a.contentDir)
	if err != nil {
		return "", err
	}
	course, probs := parse.LoadDir(dir, demos.Builtin())
	if len(probs) > 0 {
		return "", contentProblems(dir, probs)
	}
	if err := labsCanRead(dir); err != nil {
		return "", err
	}
	fmt.Fprintf(a.stdout, "Course: %d lesson(s) from %s\n", len(course.Lessons), dir)
	writeCheckPlan(a.stdout, course)
	return dir, nil
}

// labsCanRead checks that every lab can use the course in dir, and that
// only its owner can change it. A lab's root is an unprivileged user on
// the server: it must be able to reach dir (o+x up to /), list it (o+r)
// and read its lesson files (o+r), which must be the files themselves:
// a symbolic link would dangle in the lab, where only dir is mounted.
// And what the course says decides what labs run and what counts as a
// pass, so neither dir nor its files may be writable by group or others.
func labsCanRead(dir string) error {
	if err := labhost.Searchable(dir); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := courseMode(dir, fi, "directory", 0o005, "o+rx"); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read the course: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") && e.Name() != lessons.GlossaryFile { // what Load reads
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		switch {
		case err != nil:
			return fmt.Errorf("check the course: %w", err)
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("the lesson file %s is a symbolic link, which the students' labs cannot follow (only %s is in a lab): copy the file it points to in its place", path, dir)
		case fi.IsDir():
			continue
		}
		if err := courseMode(path, fi, "lesson file", 0o004, "o+r"); err != nil {
			return err
		}
	}
	return nil
}

// courseMode checks a file or directory of the course: others have the
// permissions need (chmod's name for them: how), nobody but its owner
// may write to it.
func courseMode(path string, fi os.FileInfo, what string, need os.FileMode, how string) error {
	perm := fi.Mode().Perm()
	if perm&need != need {
		return fmt.Errorf("the %s %s is not readable by other users (mode %o), so the students' labs cannot read it: chmod %s %s", what, path, perm, how, path)
	}
	if perm&0o022 != 0 {
		return fmt.Errorf("the %s %s is writable by users other than its owner (mode %o): they could change what the labs run and what counts as a pass: chmod go-w %s", what, path, perm, path)
	}
	return nil
}

func (f *serveFlags) options() (workshop.Options, error) {
	mem, err := cgroup.ParseMemory(f.memory)
	if err != nil {
		return workshop.Options{}, fmt.Errorf("--student-memory %q: %w", f.memory, err)
	}
	if mem < 256<<20 {
		return workshop.Options{}, fmt.Errorf("--student-memory %s is too little for the course's demos: give at least 256M", f.memory)
	}
	if f.pids < 128 {
		return workshop.Options{}, fmt.Errorf("--student-pids %d is too few for the course's demos: give at least 128", f.pids)
	}
	if f.cpus <= 0 {
		return workshop.Options{}, fmt.Errorf("--student-cpus %g: give a positive number of CPUs, e.g. 0.5", f.cpus)
	}
	if f.maxStudents < 1 || f.maxStudents > labhost.MaxSlots {
		return workshop.Options{}, fmt.Errorf("--max-students %d: give 1 to %d", f.maxStudents, labhost.MaxSlots)
	}
	host, _ := os.Hostname()
	shard, err := workshop.ParseShard(f.shard, host)
	if err != nil {
		return workshop.Options{}, err
	}
	var keys []gossh.PublicKey
	if f.instructorKeys != "" {
		if keys, err = workshop.ParseInstructorKeys(f.instructorKeys); err != nil {
			return workshop.Options{}, fmt.Errorf("--instructor-key: %w", err)
		}
	}
	return workshop.Options{
		InstructorKeys: keys,
		Listen:         f.listen, State: f.state, ClassCode: f.classCode, MaxStudents: f.maxStudents,
		Quota: labhost.Quota{MemoryBytes: mem, Pids: f.pids, CPUs: f.cpus},
		Idle:  f.idle, Linger: f.linger, Shard: shard,
	}, nil
}

func port(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return fmt.Sprint(t.Port)
	}
	return a.String()
}

// localDashboard shows the dashboard on this terminal while the server
// serves. Its q asks whether to end the workshop, and a yes ends it
// through the instructor's EndSession (logged); should the dashboard
// itself fail, the returned context ends, which stops the server. The
// returned function closes the dashboard, giving the terminal back.
func (a *app) localDashboard(ctx context.Context, srv *workshop.Server) (context.Context, func()) {
	serveCtx, stopServe := context.WithCancel(ctx)
	dashCtx, closeDash := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer stopServe()
		m := dashboard.New(srv.Roster(), srv.Course(), srv.LocalActions()).EndsWorkshop()
		if _, err := tea.NewProgram(m, tea.WithContext(dashCtx)).Run(); err != nil && dashCtx.Err() == nil {
			fmt.Fprintf(a.stderr, "kcna-lab serve: the dashboard: %v\n", err)
		}
	}()
	return serveCtx, func() {
		closeDash()
		<-finished
	}
}

// openServerLog is where the server logs while the dashboard has the
// terminal.
func openServerLog(state string) (*os.File, error) {
	if err := os.MkdirAll(state, 0o711); err != nil {
		return nil, fmt.Errorf("make the class directory %s: %w", state, err)
	}
	f, err := os.OpenFile(filepath.Join(state, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the server's log: %w", err)
	}
	return f, nil
}

// serveClassPage serves the projector's page on addr. Off loopback every
// request needs a token made now and printed once: the page shows every
// student's results, which are not for the room's network to read.
func (a *app) serveClassPage(addr string, srv *workshop.Server) (func(), error) {
	ln, loopback, err := classweb.Listen(addr)
	if err != nil {
		return nil, err
	}
	token := ""
	if !loopback {
		token = classweb.NewToken()
	}
	web := classweb.NewServer(classweb.Handler(srv.Roster(), token))
	go func() { _ = web.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/"
	if token != "" {
		url += "?token=" + token
		fmt.Fprintf(a.stdout, "The class page (for the projector; keep the token to yourself): %s\n", url)
	} else {
		fmt.Fprintf(a.stdout, "The class page, on this machine only: %s\n", url)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = web.Shutdown(ctx)
	}, nil
}
