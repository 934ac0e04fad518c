package workshop

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// How a student gets in:
//
//   - a new name, with a key: in, and the key is pinned to the name when
//     the session starts; with a class code, only once the code is given
//     as a second step;
//   - a new name without a key: only by the class code, and the name is
//     then pinned to a password kcna-lab shows once;
//   - a known name: only with the key pinned to it, or for a keyless name
//     its password;
//   - anything else (another key, a bad name, no key and no code):
//     refused, and told why.
//
// Refusals are told through keyboard-interactive, whose instruction text
// SSH clients print: a refused student learns what to do, not just
// "Permission denied".
func (s *Server) authConfig(ssh.Context) *gossh.ServerConfig {
	c := &gossh.ServerConfig{
		PublicKeyCallback:           s.checkKey,
		KeyboardInteractiveCallback: s.explainOrAsk,
	}
	if s.opts.ClassCode != "" || s.class.HasKeyless() {
		// A password here is a class code or a keyless student's own;
		// without either, no client should be led to ask for one.
		c.PasswordCallback = s.checkPassword(nil)
	}
	return c
}

var errRefused = errors.New("refused")

func (s *Server) checkKey(conn gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
	name := conn.User()
	// An instructor's key opens the dashboard and nothing else; the
	// instructor's name takes no other key.
	switch instructorKey := s.isInstructorKey(key); {
	case name == InstructorName && instructorKey:
		p := withKey(key)
		p.Extensions[roleExt] = InstructorName
		return p, nil
	case name == InstructorName || instructorKey:
		why := "not an instructor's key"
		if instructorKey {
			why = "an instructor's key offered for a student's name"
		}
		s.log.Printf("refused %q from %s: %s", name, addrHost(conn.RemoteAddr()), why)
		return nil, errRefused
	}
	if ValidName(name) != nil {
		return nil, errRefused // keyboard-interactive then says why
	}
	pinned, matches := s.class.Pinned(name, key)
	switch {
	case matches:
		return withKey(key), nil
	case pinned:
		return nil, errRefused
	case s.opts.ClassCode == "":
		return withKey(key), nil
	}
	// A new name in a class with a code: the key is right, now the code.
	return nil, &gossh.PartialSuccessError{Next: gossh.ServerAuthCallbacks{
		KeyboardInteractiveCallback: s.askCode(key),
		PasswordCallback:            s.checkPassword(key),
	}}
}

// explainOrAsk is keyboard-interactive as a first step: a keyless
// student's password, the class code for a new name without a key, or
// why they cannot come in.
func (s *Server) explainOrAsk(conn gossh.ConnMetadata, ask gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	name := conn.User()
	if name == InstructorName {
		return nil, s.tell(conn, ask, "The instructor's dashboard opens only with a key listed in the server's --instructor-key file, and this connection offered none of them.")
	}
	if err := ValidName(name); err != nil {
		return nil, s.tell(conn, ask, err.Error())
	}
	if st, known := s.class.Lookup(name); known {
		if !st.Keyless() {
			return nil, s.tell(conn, ask, fmt.Sprintf("The name %s is taken: its progress is protected by the SSH key that first joined under it, and this connection did not offer that key. If you are %s, connect with that key (ssh -i ~/.ssh/KEY ...); otherwise choose another name.", name, name))
		}
		return s.ask(conn, ask, "", fmt.Sprintf("Password for %s: ", name), nil, func(answer string) bool { return s.class.PasswordMatches(name, answer) })
	}
	if s.opts.ClassCode == "" {
		return nil, s.tell(conn, ask, "This workshop admits students by SSH key, and your SSH client offered none. Make one with: ssh-keygen -t ed25519  (press enter at each question), then connect again.")
	}
	return s.askCode(nil)(conn, ask)
}

// askCode asks for the class code; key (nil: none) is pinned when right.
func (s *Server) askCode(key gossh.PublicKey) func(gossh.ConnMetadata, gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	return func(conn gossh.ConnMetadata, ask gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
		return s.ask(conn, ask, "New to this workshop: your instructor has a class code for you.", "Class code: ", key, s.codeMatches)
	}
}

// ask asks one question and lets the student in with key (nil: none)
// when right; wrong answers count against the address (guessing is slow).
func (s *Server) ask(conn gossh.ConnMetadata, ask gossh.KeyboardInteractiveChallenge, instruction, question string, key gossh.PublicKey, right func(string) bool) (*gossh.Permissions, error) {
	if s.guessing(conn) {
		return nil, s.tell(conn, ask, "Too many wrong codes or passwords from your address: wait ten minutes, or ask your instructor.")
	}
	answers, err := ask("", instruction, []string{question}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 || !right(answers[0]) {
		s.wrongGuess(conn)
		return nil, errRefused
	}
	return withKey(key), nil
}

// checkPassword takes a password as keyboard-interactive takes an answer:
// a keyless student's own, or the class code for a new name.
func (s *Server) checkPassword(key gossh.PublicKey) func(gossh.ConnMetadata, []byte) (*gossh.Permissions, error) {
	return func(conn gossh.ConnMetadata, password []byte) (*gossh.Permissions, error) {
		name := conn.User()
		if ValidName(name) != nil || s.guessing(conn) {
			return nil, errRefused
		}
		st, known := s.class.Lookup(name)
		ok := false
		switch {
		case known && key == nil && st.Keyless():
			ok = s.class.PasswordMatches(name, string(password))
		case !known:
			ok = s.codeMatches(string(password))
		}
		if !ok {
			s.wrongGuess(conn)
			return nil, errRefused
		}
		return withKey(key), nil
	}
}

func (s *Server) codeMatches(code string) bool {
	return s.opts.ClassCode != "" && subtle.ConstantTimeCompare([]byte(code), []byte(s.opts.ClassCode)) == 1
}

// The class code is short and shared: at most maxGuesses wrong codes or
// passwords per address in guessWindow.
const (
	maxGuesses  = 10
	guessWindow = 10 * time.Minute
)

func (s *Server) guessing(conn gossh.ConnMetadata) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guesses[addrHost(conn.RemoteAddr())]
	return g.count >= maxGuesses && time.Since(g.since) < guessWindow
}

func (s *Server) wrongGuess(conn gossh.ConnMetadata) {
	host := addrHost(conn.RemoteAddr())
	s.log.Printf("refused %q from %s: a wrong class code or password", conn.User(), host)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.guesses[host]
	if time.Since(g.since) >= guessWindow {
		g = guesses{since: time.Now()}
	}
	g.count++
	if len(s.guesses) > 10000 {
		clear(s.guesses)
	}
	s.guesses[host] = g
}

type guesses struct {
	count int
	since time.Time
}

func addrHost(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// tell shows why on the student's terminal (keyboard-interactive
// instruction text) and refuses. SSH clients try keyboard-interactive
// several times; the reason is shown once a connection.
func (s *Server) tell(conn gossh.ConnMetadata, ask gossh.KeyboardInteractiveChallenge, why string) error {
	id := string(conn.SessionID())
	s.mu.Lock()
	_, told := s.told[id]
	if !told {
		if len(s.told) > 10000 {
			clear(s.told) // forget old connections; worst case a reason shows twice
		}
		s.told[id] = struct{}{}
	}
	s.mu.Unlock()
	if !told {
		_, _ = ask("", "kcna-lab: "+why, nil, nil)
	}
	return errRefused
}

// withKey carries the authenticated key to the session (sess.PublicKey).
func withKey(key gossh.PublicKey) *gossh.Permissions {
	p := &gossh.Permissions{Extensions: map[string]string{}}
	if key != nil {
		p.Extensions[publicKeyExt] = base64.StdEncoding.EncodeToString(key.Marshal())
	}
	return p
}

// admitSession checks the name against the roll and the shard, pins the
// session's key to a new name, and returns the password made for a new
// keyless name (to be shown once).
func (s *Server) admitSession(sess ssh.Session) (st Student, password string, err error) {
	name := sess.User()
	if err := ValidName(name); err != nil {
		return Student{}, "", err
	}
	if sess.Permissions().Extensions[roleExt] != "" || (sess.PublicKey() != nil && s.isInstructorKey(sess.PublicKey())) {
		return Student{}, "", errors.New("an instructor's key is not a student's")
	}
	defer func() {
		if err == nil {
			s.roster.AddIn(name, HomeDir(s.opts.State, name), progressRel)
		}
	}()
	if shard := s.opts.Shard.Of(name); shard != s.opts.Shard.Index {
		return Student{}, "", fmt.Errorf("%s belongs to shard %d of this class, not to this server (shard %d): connect with ssh -p PORT %s@ADDRESS-OF-SHARD-%d, as your instructor's hand-out lists", name, shard, s.opts.Shard.Index, name, shard)
	}
	var key gossh.PublicKey
	if k := sess.PublicKey(); k != nil {
		key = k
	}
	if key == nil && s.opts.ClassCode == "" {
		if st, ok := s.class.Lookup(name); !ok || !st.Keyless() {
			return Student{}, "", errors.New("this workshop admits students by SSH key; connect with one (ssh-keygen -t ed25519 makes one)")
		}
	}
	st, password, err = s.class.Admit(name, key)
	if errors.Is(err, ErrKeyMismatch) {
		return Student{}, "", fmt.Errorf("the name %s is taken by another key or a password; connect as you first did, or choose another name", name)
	}
	return st, password, err
}
