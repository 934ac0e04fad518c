package ansi

import "testing"

// The wants are what bluemonday v1.0.27's StrictPolicy().Sanitize returns
// for each input, recorded when stripHTML replaced it.
func TestStripHTMLMatchesBluemondayStrict(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"  ", "  "},
		{"plain", "plain"},
		{"<b>bold</b> &amp; <i>it</i>", "bold &amp; it"},
		{"<script>alert(1)</script>after", "after"},
		{"<style>p{}</style>x", "x"},
		{"<title>T</title>body", "body"},
		{"<iframe src=x>in</iframe>out", "out"},
		{"<!-- c -->text", "text"},
		{"<!DOCTYPE html><p>p</p>", "p"},
		{"<br/>a<img src=x />b", "ab"},
		{"</title>stray<title>in</title>end", "stray"},
		{"<TITLE>up</TITLE>x", "x"},
		{"a < b > c", "a &lt; b &gt; c"},
		{"<digest of the tested image>", ""},
		{"1 &lt; 2 &#x41;", "1 &lt; 2 A"},
		{"<div><noscript>ns</noscript>ok</div>", "ok"},
		{"<object><param>x</param></object>y", "y"},
		{"<p>unclosed", "unclosed"},
		{"<details><summary>S</summary>Body</details>", "SBody"},
		{"<a href=\"http://x\">link</a>", "link"},
	} {
		if got := stripHTML(c.in); got != c.want {
			t.Errorf("stripHTML(%q) = %q, bluemonday gave %q", c.in, got, c.want)
		}
	}
}
