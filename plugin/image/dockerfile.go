package image

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	// Line is where the instruction starts, 1-based.
	Line int
	// Cmd is the keyword in upper case: FROM, COPY, RUN, ...
	Cmd string
	// Rest is everything after the keyword, as written.
	Rest string
	// Args are the arguments: the JSON array's elements in exec form
	// (JSON true), else Rest split on white space.
	Args []string
	JSON bool
}

// String is the instruction as the build narrates and caches it.
func (in Instruction) String() string { return in.Cmd + " " + in.Rest }

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// Path names the file in errors.
	Path         string
	Instructions []Instruction
}

// supported are the instructions kcna-lab builds.
var supported = []string{"FROM", "COPY", "RUN", "ENV", "WORKDIR", "CMD", "ENTRYPOINT", "LABEL"}

// unsupported says, for Docker's other instructions, what to do instead.
var unsupported = map[string]string{
	"ADD":         "use COPY (ADD also fetches URLs and unpacks archives, which kcna-lab does not)",
	"ARG":         "write the value into the Dockerfile or use ENV",
	"USER":        "every step runs as the sandbox's root",
	"EXPOSE":      "it only documents a port; publish one with `kcna-lab run --net bridge --publish`",
	"VOLUME":      "mount one at run time with `kcna-lab run --volume`",
	"HEALTHCHECK": "kcna-lab images carry no health check",
	"SHELL":       "shell-form RUN always uses /bin/sh -c",
	"ONBUILD":     "kcna-lab images carry no triggers",
	"STOPSIGNAL":  "kcna-lab stops a sandbox with SIGTERM, then SIGKILL",
	"MAINTAINER":  `use LABEL org.opencontainers.image.authors="..."`,
}

// ParseDockerfile reads a Dockerfile and checks every instruction is in
// the subset; errors name the file and line.
func ParseDockerfile(name string, r io.Reader) (*Dockerfile, error) {
	df := &Dockerfile{Path: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var cur strings.Builder
	start, n := 0, 0
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		in, err := parseInstruction(name, start, text)
		if err != nil {
			return err
		}
		df.Instructions = append(df.Instructions, in)
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment, also inside a continued instruction
		}
		if cur.Len() == 0 {
			if trimmed == "" {
				continue
			}
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cur.Len() > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := df.check(); err != nil {
		return nil, err
	}
	return df, nil
}

// parseInstruction splits one joined instruction into keyword and args.
func parseInstruction(file string, line int, text string) (Instruction, error) {
	kw, rest, _ := strings.Cut(text, " ")
	if i := strings.IndexAny(kw, "\t"); i >= 0 {
		kw, rest = text[:i], text[i+1:]
	}
	in := Instruction{Line: line, Cmd: strings.ToUpper(kw), Rest: strings.TrimSpace(rest)}
	at := fmt.Sprintf("%s:%d", file, line)
	if hint, ok := unsupported[in.Cmd]; ok {
		return in, fmt.Errorf("%s: %s is not in the subset kcna-lab builds (%s): %s", at, in.Cmd, strings.Join(supported, ", "), hint)
	}
	known := false
	for _, s := range supported {
		known = known || s == in.Cmd
	}
	if !known {
		return in, fmt.Errorf("%s: unknown instruction %q; kcna-lab builds %s", at, kw, strings.Join(supported, ", "))
	}
	if in.Rest == "" {
		return in, fmt.Errorf("%s: %s needs arguments", at, in.Cmd)
	}
	if strings.HasPrefix(in.Rest, "[") && (in.Cmd == "RUN" || in.Cmd == "CMD" || in.Cmd == "ENTRYPOINT" || in.Cmd == "COPY") {
		if err := json.Unmarshal([]byte(in.Rest), &in.Args); err != nil {
			return in, fmt.Errorf("%s: %s %s: the exec form is a JSON array of strings, e.g. [\"/bin/echo\", \"hi\"]: %w", at, in.Cmd, in.Rest, err)
		}
		in.JSON = true
		return in, nil
	}
	args, err := splitWords(in.Rest)
	if err != nil {
		return in, fmt.Errorf("%s: %s: %w", at, in.Cmd, err)
	}
	in.Args = args
	return in, nil
}

// splitWords splits on white space, keeping "double-quoted" runs whole.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted, inWord = !quoted, true
		case c == '\\' && quoted && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case (c == ' ' || c == '\t') && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unclosed double quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// check enforces what holds across instructions: one FROM, first.
func (df *Dockerfile) check() error {
	if len(df.Instructions) == 0 {
		return fmt.Errorf("%s: no instructions; start with FROM scratch or FROM busybox", df.Path)
	}
	for i, in := range df.Instructions {
		at := fmt.Sprintf("%s:%d", df.Path, in.Line)
		switch {
		case i == 0 && in.Cmd != "FROM":
			return fmt.Errorf("%s: the first instruction must be FROM (FROM scratch or FROM busybox), not %s", at, in.Cmd)
		case i > 0 && in.Cmd == "FROM":
			return fmt.Errorf("%s: a second FROM starts a multi-stage build, which kcna-lab does not do; use one FROM", at)
		}
		if err := checkArgs(in); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	return nil
}

// checkArgs checks one instruction's arguments.
func checkArgs(in Instruction) error {
	switch in.Cmd {
	case "FROM":
		if len(in.Args) != 1 {
			return fmt.Errorf("FROM %s: give one base, scratch or busybox (no AS, no --platform)", in.Rest)
		}
		if b := in.Args[0]; b != "scratch" && b != "busybox" && b != "busybox:latest" {
			return fmt.Errorf("FROM %s: kcna-lab pulls no base images; use FROM scratch (an empty image) or FROM busybox (the course's own busybox root filesystem)", b)
		}
	case "COPY":
		for _, a := range in.Args {
			if strings.HasPrefix(a, "--") {
				return fmt.Errorf("COPY %s: the flag is not supported; files are copied owned by root with their own modes", a)
			}
		}
		if len(in.Args) < 2 {
			return fmt.Errorf("COPY %s: give at least one source and a destination, e.g. COPY hello.txt /app/", in.Rest)
		}
		if len(in.Args) > 2 && !strings.HasSuffix(in.Args[len(in.Args)-1], "/") {
			return fmt.Errorf("COPY %s: with several sources the destination must be a directory ending in /", in.Rest)
		}
	case "ENV", "LABEL":
		if _, err := keyValues(in); err != nil {
			return err
		}
	case "WORKDIR":
		if len(in.Args) != 1 {
			return fmt.Errorf("WORKDIR %s: give one directory", in.Rest)
		}
	}
	return nil
}

// keyValues reads ENV and LABEL: KEY=VALUE pairs, or ENV's old form
// "KEY VALUE".
func keyValues(in Instruction) ([][2]string, error) {
	if in.Cmd == "ENV" && !strings.Contains(in.Args[0], "=") {
		if len(in.Args) < 2 {
			return nil, fmt.Errorf("ENV %s: give KEY=VALUE", in.Rest)
		}
		return [][2]string{{in.Args[0], strings.Join(in.Args[1:], " ")}}, nil
	}
	var out [][2]string
	for _, a := range in.Args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %s: %q is not KEY=VALUE", in.Cmd, in.Rest, a)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// command is RUN's, CMD's or ENTRYPOINT's argv: the exec form as given,
// the shell form through /bin/sh -c.
func (in Instruction) command() []string {
	if in.JSON {
		return in.Args
	}
	return []string{"/bin/sh", "-c", in.Rest}
}

// resolveDir is WORKDIR's path, relative ones against the current one.
func resolveDir(cur, dir string) string {
	if !path.IsAbs(dir) {
		dir = path.Join("/", cur, dir)
	}
	return path.Clean(dir)
}
