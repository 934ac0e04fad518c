package sandbox

// Report is what this host lets kcna-lab do, as `kcna-lab doctor` shows it.
type Report struct {
	Kernel string `json:"kernel"`
	Root   bool   `json:"root"`
	// Namespaces maps each namespace to "" when it can be used here, or
	// the reason it cannot.
	Namespaces map[Namespace]string `json:"namespaces"`
	// UserNS is "" when user namespaces are allowed, else the reason and
	// the setting that decides.
	UserNS string `json:"user_namespaces"`
	Cgroup struct {
		Mode        string            `json:"mode"`
		Controllers map[string]string `json:"controllers"` // memory -> "v1" / "v2"
		// Problem is "" when limits can be set, else why not.
		Problem string `json:"problem,omitempty"`
	} `json:"cgroup"`
	// Sandbox is "" when a sandbox with every namespace above runs here,
	// else why not: each alone may work where they fail together.
	Sandbox string `json:"sandbox"`
	Overlay string `json:"overlayfs"` // "" when available
	// Idmap is "" when a volume is idmapped, so that root inside writes as
	// the invoking user (tried on a directory in os.TempDir()).
	Idmap string `json:"idmapped_volumes"`
	// Bridge is "" when a sandbox can join kcna-lab's bridge network.
	Bridge string `json:"bridge"`
	// Seccomp is "" when sandboxes can load a seccomp filter, else why not.
	Seccomp string `json:"seccomp"`
	Busybox string `json:"busybox"` // the static busybox found, or ""
	// Init is the program every sandbox starts as, and InitKind which
	// init it carries: "native" or "go" (InitProblem says why neither).
	Init        string `json:"init"`
	InitKind    string `json:"init_kind"`
	InitProblem string `json:"init_problem,omitempty"`
}
