package sql

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the class of a token.
type tokKind uint8

const (
	tokEOF       tokKind = iota
	tokIdent             // unquoted identifier or keyword; upper holds its upper-cased spelling
	tokQuoted            // `backquoted` identifier; text is unescaped
	tokString            // 'string'; text is unescaped
	tokBinary            // X'0AFF'; text is the decoded bytes
	tokInt               // 123
	tokDecimal           // 1.5, .5, 1.
	tokFloat             // 1e3, 1.5E-2
	tokParam             // ? or $n; text is "?" or the digits of n
	tokOp                // punctuation and operators; text is the operator
	tokHintStart         // /*+
	tokHintEnd           // */ closing a hint
)

// token is one lexical token. start and end are byte offsets of its source text.
type token struct {
	kind       tokKind
	text       string
	upper      string
	pos        Pos
	start, end int
}

// isKw reports whether t is the unquoted keyword kw (upper case).
func (t token) isKw(kw string) bool { return t.kind == tokIdent && t.upper == kw }

// lexer turns source text into tokens, tracking line and rune column.
type lexer struct {
	src    string
	off    int
	line   int
	col    int
	inHint bool
	hintAt Pos
}

// lex tokenizes src completely. On a lexical error it returns the tokens read so far and the error; the
// token list always ends with an EOF token.
func lex(src string) ([]token, *ParseError) {
	lx := &lexer{src: src, line: 1, col: 1}
	var toks []token
	for {
		t, err := lx.next()
		if err != nil {
			toks = append(toks, token{kind: tokEOF, pos: lx.pos(), start: len(src), end: len(src)})
			return toks, err
		}
		toks = append(toks, t)
		if t.kind == tokEOF {
			return toks, nil
		}
	}
}

func (lx *lexer) pos() Pos { return Pos{Offset: lx.off, Line: lx.line, Col: lx.col} }

// advance moves over n bytes, updating line and column.
func (lx *lexer) advance(n int) {
	end := lx.off + n
	for lx.off < end {
		r, size := utf8.DecodeRuneInString(lx.src[lx.off:])
		lx.off += size
		if r == '\n' {
			lx.line++
			lx.col = 1
		} else {
			lx.col++
		}
	}
}

func (lx *lexer) peekByte(k int) byte {
	if lx.off+k < len(lx.src) {
		return lx.src[lx.off+k]
	}
	return 0
}

func errAt(p Pos, format string, args ...any) *ParseError {
	return &ParseError{Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// skipSpace skips white space and comments (but not hints).
func (lx *lexer) skipSpace() *ParseError {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			lx.advance(1)
		case c == '-' && lx.peekByte(1) == '-':
			i := strings.IndexByte(lx.src[lx.off:], '\n')
			if i < 0 {
				lx.advance(len(lx.src) - lx.off)
			} else {
				lx.advance(i + 1)
			}
		case c == '/' && lx.peekByte(1) == '*' && lx.peekByte(2) != '+':
			start := lx.pos()
			i := strings.Index(lx.src[lx.off+2:], "*/")
			if i < 0 {
				lx.advance(len(lx.src) - lx.off)
				return errAt(start, "Unterminated comment: /* at line %d, column %d is never closed with */", start.Line, start.Col)
			}
			lx.advance(i + 4)
		default:
			r, _ := utf8.DecodeRuneInString(lx.src[lx.off:])
			if unicode.IsSpace(r) {
				lx.advance(utf8.RuneLen(r))
				continue
			}
			return nil
		}
	}
	return nil
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (lx *lexer) next() (token, *ParseError) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	p := lx.pos()
	if lx.off >= len(lx.src) {
		if lx.inHint {
			return token{}, errAt(lx.hintAt, "Unterminated hint: /*+ at line %d, column %d is never closed with */", lx.hintAt.Line, lx.hintAt.Col)
		}
		return token{kind: tokEOF, pos: p, start: lx.off, end: lx.off}, nil
	}
	mk := func(kind tokKind, text string, n int) token {
		start := lx.off
		lx.advance(n)
		return token{kind: kind, text: text, pos: p, start: start, end: lx.off}
	}
	c := lx.src[lx.off]
	rest := lx.src[lx.off:]
	switch {
	case c == '/' && strings.HasPrefix(rest, "/*+"):
		if lx.inHint {
			return token{}, errAt(p, "Hints cannot be nested")
		}
		lx.inHint, lx.hintAt = true, p
		return mk(tokHintStart, "/*+", 3), nil
	case c == '*' && lx.peekByte(1) == '/' && lx.inHint:
		lx.inHint = false
		return mk(tokHintEnd, "*/", 2), nil
	case (c == 'x' || c == 'X') && lx.peekByte(1) == '\'':
		start := lx.off
		lx.advance(1)
		s, err := lx.quoted('\'', "string literal")
		if err != nil {
			return token{}, err
		}
		b, herr := hex.DecodeString(s)
		if herr != nil {
			return token{}, errAt(p, "Binary literal string must contain an even number of hexadecimal digits: X'%s'", s)
		}
		return token{kind: tokBinary, text: string(b), pos: p, start: start, end: lx.off}, nil
	case c == '\'':
		start := lx.off
		s, err := lx.quoted('\'', "string literal")
		if err != nil {
			return token{}, err
		}
		return token{kind: tokString, text: s, pos: p, start: start, end: lx.off}, nil
	case c == '`':
		start := lx.off
		s, err := lx.quoted('`', "quoted identifier")
		if err != nil {
			return token{}, err
		}
		if s == "" {
			return token{}, errAt(p, "Zero-length delimited identifier ``")
		}
		return token{kind: tokQuoted, text: s, pos: p, start: start, end: lx.off}, nil
	case c == '"':
		return token{}, errAt(p, "Encountered \"\\\"\" at line %d, column %d. Double quotes are not used in Flink SQL: write 'string literals' in single quotes and `identifiers` in backticks", p.Line, p.Col)
	case isDigit(c) || c == '.' && isDigit(lx.peekByte(1)):
		return lx.number(p), nil
	case c == '?':
		return mk(tokParam, "?", 1), nil
	case c == '$' && isDigit(lx.peekByte(1)):
		n := 1
		for lx.off+n < len(lx.src) && isDigit(lx.src[lx.off+n]) {
			n++
		}
		return mk(tokParam, rest[1:n], n), nil
	}
	for _, op := range [...]string{"<>", "<=", ">=", "!=", "||", "=>", "::"} {
		if strings.HasPrefix(rest, op) {
			return mk(tokOp, op, 2), nil
		}
	}
	if strings.IndexByte("()[],;.+-*/%=<>:{}|^", c) >= 0 {
		return mk(tokOp, string(c), 1), nil
	}
	r, size := utf8.DecodeRuneInString(rest)
	if isIdentStart(r) {
		n := size
		for lx.off+n < len(lx.src) {
			r2, s2 := utf8.DecodeRuneInString(lx.src[lx.off+n:])
			if !isIdentPart(r2) {
				break
			}
			n += s2
		}
		t := mk(tokIdent, rest[:n], n)
		t.upper = strings.ToUpper(t.text)
		return t, nil
	}
	if r == utf8.RuneError && size == 1 {
		return token{}, errAt(p, "Invalid UTF-8 byte 0x%02x", c)
	}
	return token{}, errAt(p, "Lexical error at line %d, column %d. Encountered: %q", p.Line, p.Col, string(r))
}

// quoted reads a literal delimited by q where a doubled q escapes it; the lexer is at the opening quote.
func (lx *lexer) quoted(q byte, what string) (string, *ParseError) {
	open := lx.pos()
	var b strings.Builder
	i := lx.off + 1
	for {
		j := strings.IndexByte(lx.src[i:], q)
		if j < 0 {
			lx.advance(len(lx.src) - lx.off)
			return "", errAt(open, "Unterminated %s: the quote %c at line %d, column %d is never closed", what, q, open.Line, open.Col)
		}
		b.WriteString(lx.src[i : i+j])
		i += j + 1
		if i < len(lx.src) && lx.src[i] == q {
			b.WriteByte(q)
			i++
			continue
		}
		break
	}
	lx.advance(i - lx.off)
	return b.String(), nil
}

func (lx *lexer) number(p Pos) token {
	s := lx.src
	i := lx.off
	kind := tokInt
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' && !(i+1 < len(s) && s[i+1] == '.') {
		kind = tokDecimal
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			kind = tokFloat
			i = j
			for i < len(s) && isDigit(s[i]) {
				i++
			}
		}
	}
	start := lx.off
	lx.advance(i - lx.off)
	return token{kind: kind, text: s[start:i], pos: p, start: start, end: i}
}

// display is how a token is shown in "Encountered ..." messages.
func (t token) display(src string) string {
	if t.kind == tokEOF {
		return "<EOF>"
	}
	if t.start < t.end && t.end <= len(src) {
		s := src[t.start:t.end]
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return s
	}
	return t.text
}
