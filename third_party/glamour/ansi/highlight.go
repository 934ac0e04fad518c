package ansi

// kcna-lab fork: upstream highlights code blocks with chroma's quick
// package, which links chroma's lexers and styles packages. Their package
// initialisation parses every embedded lexer and style (about 15 ms) in
// every process that links glamour, whether it renders Markdown or not.
// This file does what quick.Highlight does with a handful of lexers parsed
// on first use, and a style registry that holds only the styles glamour
// registers itself.

import (
	"embed"
	"io"
	"io/fs"
	"sync"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/formatters"
)

// The lexers are chroma's own (same version), copied from its
// lexers/embedded directory.
//
//go:embed lexers/*.xml
var lexerFiles embed.FS

var (
	lexersOnce sync.Once
	lexerReg   *chroma.LexerRegistry
	lexerErr   error

	// chromaStyles is guarded by mutex (codeblock.go).
	chromaStyles = map[string]*chroma.Style{}
)

// plaintext is chroma's fallback lexer.
var plaintext = chroma.MustNewLexer(&chroma.Config{
	Name:      "fallback",
	Filenames: []string{"*"},
	Priority:  -1,
}, func() chroma.Rules {
	return chroma.Rules{
		"root": []chroma.Rule{
			{Pattern: `.+`, Type: chroma.Text},
			{Pattern: `\n`, Type: chroma.Text},
		},
	}
})

func registerStyle(s *chroma.Style) { chromaStyles[s.Name] = s }

func knownStyle(name string) bool {
	mutex.Lock()
	defer mutex.Unlock()
	_, ok := chromaStyles[name]
	return ok
}

func lexers() (*chroma.LexerRegistry, error) {
	lexersOnce.Do(func() {
		reg := chroma.NewLexerRegistry()
		paths, err := fs.Glob(lexerFiles, "lexers/*.xml")
		if err != nil {
			lexerErr = err
			return
		}
		for _, p := range paths {
			l, err := chroma.NewXMLLexer(lexerFiles, p)
			if err != nil {
				lexerErr = err
				return
			}
			reg.Register(l)
		}
		lexerReg = reg
	})
	return lexerReg, lexerErr
}

// highlight is quick.Highlight over the lexers above.
func highlight(w io.Writer, source, lexer, formatter, style string) error {
	reg, err := lexers()
	if err != nil {
		return err
	}
	l := reg.Get(lexer)
	if l == nil {
		l = reg.Analyse(source)
	}
	if l == nil {
		l = plaintext
	}
	l = chroma.Coalesce(l)
	f := formatters.Get(formatter)
	mutex.Lock()
	s := chromaStyles[style]
	mutex.Unlock()
	it, err := l.Tokenise(nil, source)
	if err != nil {
		return err
	}
	return f.Format(w, s, it)
}
