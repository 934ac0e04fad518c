package workshop

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// How a student gets in:
//
//   - with a key, under a name no key is pinned to yet: in (the key is
//     pinned when the session starts; with a class code, only once the code
//     is given as a second step);
//   - with the key pinned to the name: in;
//   - with another key, or no key, under a pinned name: refused, told why;
//   - with no key at all: only by the class code, when there is one.
//
// Refusals are told through keyboard-interactive, whose instruction text
// SSH clients print: a refused student learns what to do, not just
// "Permission denied".
func (s *Server) authConfig(ssh.Context) *gossh.ServerConfig {
	c := &gossh.ServerConfig{
		PublicKeyCallback:           s.checkKey,
		KeyboardInteractiveCallback: s.explainOrAskCode,
	}
	if s.opts.ClassCode != "" {
		// Only a code can be a password here; without one, no client
		// should be led to ask the student for a password.
		c.PasswordCallback = s.checkCodePassword(nil)
	}
	return c
}

var errRefused = errors.New("refused")

func (s *Server) checkKey(conn gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
	name := conn.User()
	if ValidName(name) != nil {
		// Let it in only to be told why not, by the session.
		return withKey(key), nil
	}
	pinned, matches := s.class.Pinned(name, key)
	switch {
	case matches:
		return withKey(key), nil
	case pinned:
		return nil, errRefused // keyboard-interactive then says why
	case s.opts.ClassCode == "":
		return withKey(key), nil
	}
	// A new name in a class with a code: the key is right, now the code.
	return nil, &gossh.PartialSuccessError{Next: gossh.ServerAuthCallbacks{
		KeyboardInteractiveCallback: s.askCode(key),
		PasswordCallback:            s.checkCodePassword(key),
	}}
}

// explainOrAskCode is keyboard-interactive as a first step: the class code
// for a student without a key, or why they cannot come in.
func (s *Server) explainOrAskCode(conn gossh.ConnMetadata, ask gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	name := conn.User()
	if err := ValidName(name); err != nil {
		return nil, s.tell(conn, ask, err.Error())
	}
	if pinned, _ := s.class.Pinned(name, nil); pinned {
		return nil, s.tell(conn, ask, fmt.Sprintf("The name %s is taken: its progress is protected by the SSH key that first joined under it, and this connection did not offer that key. If you are %s, connect with that key (ssh -i ~/.ssh/KEY ...); otherwise choose another name.", name, name))
	}
	if s.opts.ClassCode == "" {
		return nil, s.tell(conn, ask, "This workshop admits students by SSH key, and your SSH client offered none. Make one with: ssh-keygen -t ed25519  (press enter at each question), then connect again.")
	}
	return s.askCode(nil)(conn, ask)
}

// askCode asks for the class code; key (nil: none) is pinned when right.
func (s *Server) askCode(key gossh.PublicKey) func(gossh.ConnMetadata, gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	return func(conn gossh.ConnMetadata, ask gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
		answers, err := ask(conn.User(), "New to this workshop: your instructor has a class code for you.", []string{"Class code: "}, []bool{false})
		if err != nil {
			return nil, err
		}
		if len(answers) != 1 || !s.codeMatches(answers[0]) {
			s.log.Printf("refused %s from %s: wrong class code", conn.User(), conn.RemoteAddr())
			return nil, errRefused
		}
		return withKey(key), nil
	}
}

func (s *Server) checkCodePassword(key gossh.PublicKey) func(gossh.ConnMetadata, []byte) (*gossh.Permissions, error) {
	return func(conn gossh.ConnMetadata, password []byte) (*gossh.Permissions, error) {
		if ValidName(conn.User()) != nil || s.opts.ClassCode == "" || !s.codeMatches(string(password)) {
			return nil, errRefused
		}
		if pinned, _ := s.class.Pinned(conn.User(), nil); pinned && key == nil {
			return nil, errRefused // a pinned name needs its key
		}
		return withKey(key), nil
	}
}

func (s *Server) codeMatches(code string) bool {
	return s.opts.ClassCode != "" && subtle.ConstantTimeCompare([]byte(code), []byte(s.opts.ClassCode)) == 1
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

// admitSession checks the name against the roll and the shard and pins
// the session's key to a new name.
func (s *Server) admitSession(sess ssh.Session) (Student, error) {
	name := sess.User()
	if err := ValidName(name); err != nil {
		return Student{}, err
	}
	if shard := s.opts.Shard.Of(name); shard != s.opts.Shard.Index {
		return Student{}, fmt.Errorf("%s belongs to shard %d of this class, not to this server (shard %d): connect with ssh -p PORT %s@ADDRESS-OF-SHARD-%d, as your instructor's hand-out lists", name, shard, s.opts.Shard.Index, name, shard)
	}
	var key gossh.PublicKey
	if k := sess.PublicKey(); k != nil {
		key = k
	}
	if key == nil && s.opts.ClassCode == "" {
		return Student{}, errors.New("this workshop admits students by SSH key; connect with one (ssh-keygen -t ed25519 makes one)")
	}
	st, err := s.class.Admit(name, key)
	if errors.Is(err, ErrKeyMismatch) {
		return Student{}, fmt.Errorf("the name %s is taken by another key; connect with the key you first used, or choose another name", name)
	}
	return st, err
}
