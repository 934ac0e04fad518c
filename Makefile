# kcna-lab — build, run and test. `make help` lists the targets.

GO       ?= go
# Static: the chroot lesson runs kcna-lab-init inside a busybox root
# filesystem, which has no C library to load. kcna-lab is pure Go.
export CGO_ENABLED = 0
BIN      := bin/kcna-lab
# The tests take kcna-lab, kcna-lab-full, kcna-lab-init and kcna-lab-init-go (the Go init
# alone) from here, built once (internal/testbuild, $KCNA_TEST_BINDIR).
TEST_ENV  = KCNA_TEST_BINDIR=$(CURDIR)/$(dir $(BIN))
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/kcna-lab/kcna-lab/cmd/internal/cli.version=$(VERSION)
# Packages kcna-lab uses on a Debian/Ubuntu machine: busybox-static is
# the sandbox's default root filesystem, iproute2 the ip the lessons
# show, util-linux has the nsenter that starts the mesh's sidecars, gcc
# and libc6-dev build kcna-lab-init's native init.
PKGS ?= $(APT_PKGS)
APT_PKGS := busybox-static iproute2 util-linux gcc libc6-dev
# And what only the tests need: tmux drives the end-to-end test, chromium
# shows the workshop's class page to a real headless browser.
TEST_APT_PKGS := $(APT_PKGS) tmux chromium
# kcna-lab-init carries the native init (sandbox/initproc/native, C that
# starts a sandbox before the Go runtime would) when the C compiler links
# a static program; else it is pure Go and starts every sandbox through
# the Go init. KCNA_LAB_NATIVE=0 asks for pure Go. internal/testbuild
# builds it the same way for the tests: keep the two in step.
NATIVE    = $(if $(filter 0,$(KCNA_LAB_NATIVE)),,$(shell printf 'int main(void){return 0;}\n' | $${CC:-cc} -static -x c -o /dev/null - 2>/dev/null && echo 1))
INIT_ENV  = CGO_ENABLED=$(if $(NATIVE),1,0)
INIT_OPTS = $(if $(NATIVE),-tags netgo$(comma)osusergo -ldflags '-s -w -linkmode external -extldflags -static',-ldflags '-s -w')
comma    := ,

.PHONY: help build programs run test test-vm e2e lint bench deps test-deps check-go clean install uninstall install-files

# make install: where, and DESTDIR for packaging (DESTDIR=pkg PREFIX=/usr).
PREFIX  ?= /usr/local
DESTDIR ?=
# install-files copies the programs from here (make install: bin/).
FROM    ?= $(dir $(BIN))
I_BIN    = $(DESTDIR)$(PREFIX)/bin
I_MAN    = $(DESTDIR)$(PREFIX)/share/man/man1
I_BASH   = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
I_ZSH    = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
I_FISH   = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# kcna-lab is the slim front a learner types: it runs the commands that
# must start at kernel speed and hands the rest to kcna-lab-full beside it
# (the TUI, the Markdown renderer, serve...). kcna-lab-init is a
# sandbox's small first process.
build: check-go ## build bin/kcna-lab, bin/kcna-lab-full (all the rest of the CLI) and bin/kcna-lab-init
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kcna-lab
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)-full ./cmd/kcna-lab-full
	$(INIT_ENV) $(GO) build -trimpath $(INIT_OPTS) -o $(BIN)-init ./cmd/kcna-lab-init
	@$(if $(NATIVE),,echo "note: no C compiler that links statically (Debian: gcc libc6-dev): $(BIN)-init has no native init, so sandboxes start more slowly")

# What the tests run: make build's three programs and kcna-lab-init built
# without the native init, which the tests use to check the Go init.
programs: build
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)-init-go ./cmd/kcna-lab-init

run: deps build ## set up what is missing, build, and open the course
	./$(BIN)

test: test-deps check-go programs ## every test: gofmt, vet, unit, sandbox (as root), TUI and end-to-end
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@# -p 1: sandbox tests check that the host is exactly as before, which
	@# another package's sandboxes running at the same time would upset.
	$(TEST_ENV) $(GO) test -p 1 -count=1 -timeout 20m ./...
	@# The glamour fork is a module of its own, which ./... leaves out.
	cd third_party/glamour && $(GO) test -count=1 ./...
	@# The sandbox tests again, every sandbox now started by the native
	@# init (the pass above ran the Go init).
	$(if $(NATIVE),KCNA_TEST_INIT=native $(TEST_ENV) $(GO) test -count=1 -timeout 10m ./sandbox/,@echo "note: no C compiler that links statically: the native init is not tested")

# Debian kernels to boot (apt package ABIs, e.g. 6.1.0-57 6.12.118+deb12);
# empty: the newest 6.1 and 6.12 cloud kernels apt knows of.
KERNELS ?=
test-vm: test-deps check-go programs ## the sandbox suites in qemu VMs on Debian's 6.1 and 6.12 kernels, pure cgroup v2 (KERNELS=...)
	KERNELS='$(KERNELS)' GO='$(GO)' $(TEST_ENV) bash e2e/vm/run.sh

e2e: test-deps check-go programs ## only the end-to-end test (the built binary in tmux at 80x24)
	$(TEST_ENV) $(GO) test -count=1 -v ./e2e/

lint: check-go ## golangci-lint (fetched through the Go module proxy)
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.6.2 run ./...

bench: test-deps check-go programs ## benchmarks: whole kcna-lab processes beside unshare and runc; TUI frames; sandbox.Run (library); a workshop room
	@command -v runc >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null; } || echo "runc not installed; the comparison will skip it"
	$(TEST_ENV) $(GO) test -p 1 -run '^$$' -bench . -benchmem ./...
	KCNA_BENCH=1 $(TEST_ENV) $(GO) test -count=1 -run '^TestCompareProcesses$$' -v ./cmd/kcna-lab/ | grep -v '^[=-]'
	KCNA_BENCH=1 $(TEST_ENV) $(GO) test -count=1 -run '^TestCompareStartup$$' -v ./sandbox/ | grep -v '^[=-]'
	@# A workshop room as its students feel it: kcna-lab serve as a process,
	@# 30 students on ptys, keystroke-to-frame latency and memory.
	KCNA_BENCH=1 $(TEST_ENV) $(GO) test -count=1 -run '^TestBenchWorkshop$$' -v ./workshop/ | grep -v '^[=-]'
	@# The instructor's dashboard as the instructor sees it: 30 students
	@# saving at once, the time until one frame shows them all.
	KCNA_BENCH=1 $(TEST_ENV) $(GO) test -count=1 -run '^TestBenchDashboard$$' -v ./workshop/dashboard/ | grep -v '^[=-]'

deps: ## install the Debian packages kcna-lab uses (when root and missing)
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: not a Debian-like system; install these yourself if you want them:$$missing"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
	  echo "note: run as root or install:$$missing"; exit 0; fi; \
	echo "installing:$$missing"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null

test-deps: ## and those only the tests use (tmux, chromium)
	@$(MAKE) --no-print-directory deps PKGS="$(TEST_APT_PKGS)"

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "Go 1.26 or later is needed: see https://go.dev/doc/install"; exit 1; }

install: build install-files ## install kcna-lab, kcna-lab-full, kcna-lab-init, the man page and bash/zsh/fish completions (PREFIX=/usr/local, DESTDIR)

# kcna-lab-full and kcna-lab-init go beside kcna-lab, where it looks for
# them. The man page and the completions are what the installed kcna-lab
# prints (kcna-lab-full's, which kcna-lab hands them to).
install-files:
	install -d $(I_BIN) $(I_MAN) $(I_BASH) $(I_ZSH) $(I_FISH)
	install -m 0755 $(FROM)kcna-lab $(FROM)kcna-lab-full $(FROM)kcna-lab-init $(I_BIN)/
	$(I_BIN)/kcna-lab man > $(I_MAN)/kcna-lab.1
	$(I_BIN)/kcna-lab completion bash > $(I_BASH)/kcna-lab
	$(I_BIN)/kcna-lab completion zsh > $(I_ZSH)/_kcna-lab
	$(I_BIN)/kcna-lab completion fish > $(I_FISH)/kcna-lab.fish
	chmod 0644 $(I_MAN)/kcna-lab.1 $(I_BASH)/kcna-lab $(I_ZSH)/_kcna-lab $(I_FISH)/kcna-lab.fish

uninstall: ## remove what make install installed (same PREFIX and DESTDIR)
	rm -f $(I_BIN)/kcna-lab $(I_BIN)/kcna-lab-full $(I_BIN)/kcna-lab-init $(I_MAN)/kcna-lab.1 \
	  $(I_BASH)/kcna-lab $(I_ZSH)/_kcna-lab $(I_FISH)/kcna-lab.fish

clean: ## remove build output
	rm -rf bin
