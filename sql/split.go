package sql

// Span is one statement of a script: byte offsets [Start, End) of its text (without the ';' and without
// leading or trailing comments and white space) and the position of its first token.
type Span struct {
	Start, End int
	Pos        Pos
}

// tokRange is a statement as token indexes [from, to); toks[to] is its ';' or the EOF token.
type tokRange struct{ from, to int }

// splitTokens splits a token list (ending with EOF) into statements at ';' outside statement sets. Empty
// statements are dropped. A statement set (BEGIN STATEMENT SET; ...; END or EXECUTE STATEMENT SET BEGIN ...;
// END, also after EXPLAIN) stays one statement: inside it, only an END that starts an inner statement closes
// it (the END of CASE ... END never starts a statement).
func splitTokens(toks []token) []tokRange {
	rs, _ := splitState(toks)
	return rs
}

// splitState also reports whether the text ends inside an open statement set.
func splitState(toks []token) ([]tokRange, bool) {
	var out []tokRange
	start := 0
	block := false
	hadBlock := false // the current statement already opened (and closed) a statement set
	innerStart := false
	n := len(toks) - 1 // toks[n] is EOF
	for i := 0; i < n; i++ {
		t := toks[i]
		if block {
			if innerStart && t.isKw("END") {
				block = false
				continue
			}
			innerStart = isOpTok(t, ";")
			continue
		}
		if !isOpTok(t, ";") {
			continue
		}
		if !hadBlock && opensBlock(toks[start:i]) {
			block, innerStart, hadBlock = true, true, true
			continue
		}
		hadBlock = false
		if i > start {
			out = append(out, tokRange{start, i})
		}
		start = i + 1
	}
	if n > start {
		out = append(out, tokRange{start, n})
	}
	return out, block
}

// opensBlock reports whether the statement tokens so far (up to a ';') open a statement set that is not
// yet closed.
func opensBlock(st []token) bool {
	if len(st) == 3 && st[0].isKw("BEGIN") && st[1].isKw("STATEMENT") && st[2].isKw("SET") {
		return true
	}
	if len(st) == 0 || !(st[0].isKw("EXECUTE") || st[0].isKw("EXPLAIN")) {
		return false
	}
	for i := 0; i+2 < len(st) && i < 12; i++ {
		if st[i].isKw("STATEMENT") && st[i+1].isKw("SET") && st[i+2].isKw("BEGIN") {
			// EXECUTE STATEMENT SET BEGIN END; is already closed.
			return !(len(st) == i+4 && st[i+3].isKw("END"))
		}
	}
	return false
}

// SplitStatements returns the statements of a script, skipping blank and comment-only ones. It never
// fails: text after an unterminated string or comment belongs to the last statement.
func SplitStatements(text string) []Span {
	toks, err := lex(text)
	var out []Span
	rs, _ := splitState(toks)
	for _, r := range rs {
		out = append(out, Span{Start: toks[r.from].start, End: toks[r.to-1].end, Pos: toks[r.from].pos})
	}
	if err != nil {
		// The lexer stopped at the error; the rest of the text belongs to the last statement, which then
		// runs to the end of the text (trailing white space trimmed).
		end := len(text)
		for end > 0 && (text[end-1] == ' ' || text[end-1] == '\t' || text[end-1] == '\n' || text[end-1] == '\r') {
			end--
		}
		errOff := offsetOf(text, err.Line, err.Col)
		last := len(toks) - 1
		lastIsSemi := last > 0 && isOpTok(toks[last-1], ";")
		switch {
		case len(out) > 0 && !lastIsSemi:
			out[len(out)-1].End = end
		case errOff < end:
			if isCommentAt(text, errOff) {
				break
			}
			out = append(out, Span{Start: errOff, End: end, Pos: Pos{Offset: errOff, Line: err.Line, Col: err.Col}})
		}
	}
	return out
}

// isCommentAt reports whether a block comment starts at off.
func isCommentAt(text string, off int) bool {
	return off+1 < len(text) && text[off] == '/' && text[off+1] == '*'
}

// offsetOf converts a line and rune column back into a byte offset.
func offsetOf(text string, line, col int) int {
	l, c := 1, 1
	for i, r := range text {
		if l == line && c == col {
			return i
		}
		if r == '\n' {
			l, c = l+1, 1
		} else {
			c++
		}
	}
	return len(text)
}

// Complete reports whether text ends a statement: its last token is a ';' outside strings, comments and
// open statement sets (so the shell can run what was typed).
func Complete(text string) bool {
	toks, err := lex(text)
	if err != nil || len(toks) < 2 {
		return false
	}
	if !isOpTok(toks[len(toks)-2], ";") {
		return false
	}
	_, open := splitState(toks)
	return !open
}
