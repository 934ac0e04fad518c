package ansi

// kcna-lab fork: upstream strips HTML with bluemonday.StrictPolicy(), and
// bluemonday's package initialisation (with gorilla/css's) compiles some
// hundred regular expressions, about 2 ms in every process that links
// glamour. stripHTML does what StrictPolicy's Sanitize does, token for
// token: every element is dropped, text is kept HTML-escaped, the content
// of the elements bluemonday skips is dropped, and comments and doctypes
// go.

import (
	"io"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// skipContent is bluemonday's setOfElementsToSkipContent.
var skipContent = map[string]bool{
	"frame": true, "frameset": true, "iframe": true, "noembed": true, "noframes": true,
	"noscript": true, "nostyle": true, "object": true, "script": true, "style": true, "title": true,
}

func stripHTML(s string) string {
	if strings.TrimSpace(s) == "" {
		return s
	}
	var (
		b        strings.Builder
		skip     bool
		skipping int
		recent   string
	)
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		if z.Next() == html.ErrorToken {
			if z.Err() == io.EOF {
				return b.String()
			}
			return ""
		}
		t := z.Token()
		switch t.Type {
		case html.StartTagToken:
			name := normaliseElementName(t.Data)
			recent = name
			if name == "script" || name == "style" {
				continue
			}
			if skipContent[t.Data] {
				skip = true
				skipping++
			}
		case html.EndTagToken:
			name := normaliseElementName(t.Data)
			if recent == name {
				recent = ""
			}
			if name == "script" || name == "style" {
				continue
			}
			if skipContent[t.Data] {
				skipping--
				if skipping == 0 {
					skip = false
				}
			}
		case html.TextToken:
			if !skip && recent != "script" && recent != "style" {
				b.WriteString(t.String())
			}
		}
	}
}

func normaliseElementName(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strconv.QuoteToASCII(s)), `"`), `"`)
}
