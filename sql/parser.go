package sql

// The parser's core: the token cursor, sticky errors, names and literals, and the entry points
// (ParseScript, ParseStatement, ParseExpr). Statements are in parser_stmt.go and parser_ddl.go, queries in
// query.go, expressions in expr.go.

import (
	"fmt"
	"strings"
)

// reserved are the keywords that cannot be used as unquoted identifiers. The list follows Calcite's core
// reserved words but is kept small, so that common column names of Flink tables (value, name, type, data,
// comment, key, ...) work without backquotes. Everything else is recognised by context.
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		ALL AND ARRAY AS ASC BETWEEN BOTH BY CASE CAST CREATE CROSS CURRENT_DATE CURRENT_TIME
		CURRENT_TIMESTAMP DATE DELETE DESCRIBE DISTINCT DROP ELSE END ESCAPE EXCEPT EXISTS EXPLAIN FALSE FETCH
		FILTER FOR FROM FULL GROUP HAVING IN INNER INSERT INTERSECT INTERVAL INTO IS JOIN LATERAL LEADING LEFT
		LIKE LIMIT LOCALTIME LOCALTIMESTAMP MATCH_RECOGNIZE MINUS MULTISET NATURAL NOT NULL OFFSET ON OR ORDER
		OUTER OVER PARTITION RIGHT ROW SELECT SET SIMILAR SYMMETRIC TABLE THEN TIME TIMESTAMP TO TRAILING TRUE
		UNION UNKNOWN UNNEST UPDATE USER USING VALUES WHEN WHERE WINDOW WITH`) {
		reserved[w] = true
	}
}

// maxDepth bounds the nesting of expressions and queries so that hostile input cannot exhaust the stack.
const maxDepth = 400

// parser is a recursive-descent parser over the tokens of one statement (or expression, or type).
//
// Errors are sticky: the first error is kept in err, and from then on the parser sees only EOF, so every
// loop ends promptly and the callers unwind without checking after each call. Parse functions therefore
// always return non-nil placeholder nodes.
type parser struct {
	src      string
	toks     []token // ends with an EOF token
	i        int
	err      *ParseError
	expected []string // alternatives tried at the current token, for "Was expecting one of"
	params   *int     // counter of ? parameters, shared by the statements of a script
	depth    int
	exprNest int // expr calls under way in the current query (0: the next expr is an outermost one)
}

func newParser(src string, toks []token, params *int) *parser {
	if params == nil {
		params = new(int)
	}
	return &parser{src: src, toks: toks, params: params}
}

var eofTok = token{kind: tokEOF}

// tok returns the current token (EOF after an error).
func (p *parser) tok() token {
	if p.err != nil {
		t := p.toks[len(p.toks)-1]
		t.kind = tokEOF
		return t
	}
	return p.toks[p.i]
}

// peekN returns the token n positions ahead of the current one.
func (p *parser) peekN(n int) token {
	if p.err != nil {
		return eofTok
	}
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) pos() Pos { return p.tok().pos }

// advance consumes the current token and returns it.
func (p *parser) advance() token {
	t := p.tok()
	if p.err == nil && p.i < len(p.toks)-1 {
		p.i++
	}
	p.expected = p.expected[:0]
	return t
}

// prev returns the last consumed token.
func (p *parser) prev() token {
	if p.i == 0 {
		return p.toks[0]
	}
	return p.toks[p.i-1]
}

func (p *parser) want(what string) {
	for _, e := range p.expected {
		if e == what {
			return
		}
	}
	p.expected = append(p.expected, what)
}

// isKw reports whether the current token is keyword kw, recording it as an alternative.
func (p *parser) isKw(kw string) bool {
	p.want(`"` + kw + `"`)
	return p.tok().isKw(kw)
}

// isOp reports whether the current token is operator op, recording it as an alternative.
func (p *parser) isOp(op string) bool {
	p.want(`"` + op + `"`)
	t := p.tok()
	return t.kind == tokOp && t.text == op
}

// peekOp is isOp without recording an alternative (for operators inside expressions).
func (p *parser) peekOp(op string) bool {
	t := p.tok()
	return t.kind == tokOp && t.text == op
}

func (p *parser) peekKw(kw string) bool { return p.tok().isKw(kw) }

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) acceptKws(kws ...string) bool {
	for k, kw := range kws {
		if !p.peekN(k).isKw(kw) {
			if k == 0 {
				p.want(`"` + kw + `"`)
			}
			return false
		}
	}
	for range kws {
		p.advance()
	}
	return true
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) expectKw(kws ...string) {
	for _, kw := range kws {
		if !p.acceptKw(kw) {
			p.unexpected()
			return
		}
	}
}

func (p *parser) expectOp(op string) {
	if !p.acceptOp(op) {
		p.unexpected()
	}
}

// fail records the first error.
func (p *parser) fail(at Pos, format string, args ...any) {
	if p.err == nil {
		p.err = errAt(at, format, args...)
	}
}

// unexpected fails at the current token with Calcite's "Encountered ... Was expecting one of" message.
func (p *parser) unexpected() {
	if p.err != nil {
		return
	}
	t := p.tok()
	msg := fmt.Sprintf("Encountered %q at line %d, column %d.", t.display(p.src), t.pos.Line, t.pos.Col)
	if t.kind == tokEOF {
		msg = fmt.Sprintf("Encountered \"<EOF>\" at line %d, column %d.", t.pos.Line, t.pos.Col)
	}
	exp := p.expected
	switch {
	case len(exp) == 1:
		msg += " Was expecting " + exp[0] + "."
	case len(exp) > 8:
		msg += " Was expecting one of: " + strings.Join(exp[:8], ", ") + ", ..."
	case len(exp) > 1:
		msg += " Was expecting one of: " + strings.Join(exp, ", ")
	}
	if t.kind == tokIdent && len(t.upper) >= 3 {
		var kws []string
		for _, e := range exp {
			if len(e) > 2 && e[0] == '"' && e[1] >= 'A' && e[1] <= 'Z' {
				kws = append(kws, e[1:len(e)-1])
			}
		}
		if s := suggest(t.upper, kws); s != "" && s != t.upper && editDistance(t.upper, s) <= len(s)/3 {
			msg += fmt.Sprintf(" Did you mean %q?", s)
		}
	}
	if t.kind == tokIdent && reserved[t.upper] && p.looksLikeName() {
		for _, e := range exp {
			if e == "<identifier>" || e == "<expression>" {
				msg += fmt.Sprintf(" (%s is a reserved keyword; write `%s` to use it as a name)", t.upper, t.text)
				break
			}
		}
	}
	p.err = errAt(t.pos, "%s", msg)
}

// looksLikeName reports whether the token after the current one suggests that the current (reserved) word
// was meant as a name: SELECT user FROM t, WHERE user = 'x', (date, ...).
func (p *parser) looksLikeName() bool {
	n := p.peekN(1)
	switch n.kind {
	case tokEOF:
		return true
	case tokOp:
		return n.text != "(" && n.text != "*" && n.text != "-" && n.text != "+"
	case tokIdent:
		return n.upper == "FROM" || n.upper == "AS"
	}
	return false
}

// enter guards recursion depth; callers defer p.leave().
func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.pos(), "Statement is nested too deeply (more than %d levels)", maxDepth)
		return false
	}
	return true
}

func (p *parser) leave() { p.depth-- }

// isIdentTok reports whether the current token can be an identifier (quoted, or unquoted and not reserved).
func (p *parser) isIdentTok() bool {
	p.want("<identifier>")
	t := p.tok()
	return t.kind == tokQuoted || t.kind == tokIdent && !reserved[t.upper]
}

// ident parses an identifier.
func (p *parser) ident() Ident {
	t := p.tok()
	if !p.isIdentTok() {
		p.unexpected()
		return Ident{P: t.pos, Name: "?"}
	}
	p.advance()
	return Ident{P: t.pos, Name: t.text}
}

// identList parses ( a, b, ... ).
func (p *parser) parenIdentList() []Ident {
	p.expectOp("(")
	var out []Ident
	for {
		out = append(out, p.ident())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return out
}

// objectName parses a[.b[.c]].
func (p *parser) objectName() ObjectName {
	id := p.ident()
	o := ObjectName{P: id.P, Parts: []string{id.Name}}
	for p.peekOp(".") && len(o.Parts) < 3 {
		p.advance()
		o.Parts = append(o.Parts, p.ident().Name)
	}
	return o
}

// stringLit parses a string literal.
func (p *parser) stringLit() (string, Pos) {
	t := p.tok()
	p.want("<string literal>")
	if t.kind != tokString {
		p.unexpected()
		return "", t.pos
	}
	p.advance()
	return t.text, t.pos
}

// textBetween returns the source text from token index i to the end of the last consumed token.
func (p *parser) textFrom(i int) string {
	if p.i == 0 || i >= p.i || i >= len(p.toks) {
		return ""
	}
	return p.src[p.toks[i].start:p.toks[p.i-1].end]
}

// atEnd reports whether the statement has ended.
func (p *parser) atEnd() bool {
	p.want(`";"`)
	return p.tok().kind == tokEOF || p.tok().kind == tokOp && p.tok().text == ";"
}

// ---- entry points ----

// ParseScript splits a script into statements and parses each. Empty statements are ignored. Positions are
// positions in text.
func ParseScript(text string) (stmts []Statement, err error) {
	defer recoverInto(&err, text)
	toks, lerr := lex(text)
	if lerr != nil {
		return nil, lerr
	}
	for _, r := range splitTokens(toks) {
		// ? parameters are numbered per statement: each statement is prepared and run on its own.
		st, perr := parseRange(text, toks, r, nil)
		if perr != nil {
			return nil, perr
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// ParseStatement parses exactly one statement; a trailing ';' and comments are allowed.
func ParseStatement(text string) (st Statement, err error) {
	defer recoverInto(&err, text)
	toks, lerr := lex(text)
	if lerr != nil {
		return nil, lerr
	}
	ranges := splitTokens(toks)
	if len(ranges) == 0 {
		t := toks[len(toks)-1]
		return nil, errAt(t.pos, "Encountered \"<EOF>\" at line %d, column %d. Was expecting a statement", t.pos.Line, t.pos.Col)
	}
	if len(ranges) > 1 {
		t := toks[ranges[1].from]
		return nil, errAt(t.pos, "Encountered %q at line %d, column %d. Only one statement is allowed here, but another one starts after ';'", t.display(text), t.pos.Line, t.pos.Col)
	}
	st, perr := parseRange(text, toks, ranges[0], nil)
	if perr != nil {
		return nil, perr
	}
	return st, nil
}

// ParseExpr parses a scalar expression.
func ParseExpr(text string) (e Expr, err error) {
	defer recoverInto(&err, text)
	toks, lerr := lex(text)
	if lerr != nil {
		return nil, lerr
	}
	p := newParser(text, toks, nil)
	e = p.expr()
	if p.tok().kind != tokEOF {
		p.unexpected()
	}
	if p.err != nil {
		return nil, p.err
	}
	return e, nil
}

// recoverInto turns a panic (a bug) into a *ParseError, so that callers never crash on user input.
func recoverInto(err *error, text string) {
	if r := recover(); r != nil {
		*err = &ParseError{Line: 1, Col: 1, Msg: fmt.Sprintf("internal error parsing SQL (please report it): %v", r)}
	}
}

// parseRange parses the statement made of toks[r.from:r.to].
func parseRange(text string, toks []token, r tokRange, params *int) (Statement, *ParseError) {
	sub := make([]token, 0, r.to-r.from+1)
	sub = append(sub, toks[r.from:r.to]...)
	// The EOF of a statement sits where its ';' (or the end of the text) is.
	sub = append(sub, token{kind: tokEOF, pos: toks[r.to].pos, start: toks[r.to].start, end: toks[r.to].start})
	p := newParser(text, sub, params)
	st := p.statement()
	if p.err == nil && p.tok().kind != tokEOF {
		p.atEnd()
		p.unexpected()
	}
	if p.err != nil {
		return nil, p.err
	}
	return st, nil
}
