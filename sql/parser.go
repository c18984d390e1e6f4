package sql

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

func (p *parser) base(i int) StmtBase {
	return StmtBase{P: p.toks[i].pos, Text: p.textFrom(i)}
}

// statement parses one statement up to its end.
func (p *parser) statement() Statement {
	start := p.i
	t := p.tok()
	var st Statement
	switch {
	case p.isKw("CREATE"):
		st = p.create()
	case p.isKw("DROP"):
		st = p.drop()
	case p.isKw("SET"):
		st = p.set()
	case p.isKw("RESET"):
		st = p.reset()
	case p.isKw("SHOW"):
		st = p.show()
	case (p.isKw("DESCRIBE") || p.isKw("DESC")) && p.peekN(1).isKw("JOB") && p.peekN(2).kind == tokString:
		p.advance()
		p.advance()
		dj := &DescribeJob{}
		dj.ID, _ = p.stringLit()
		st = dj
	case p.isKw("DESCRIBE"), p.isKw("DESC"):
		p.advance()
		name := p.objectName()
		st = &Describe{Name: name}
	case p.isKw("EXPLAIN"):
		st = p.explain()
	case p.isKw("USE"):
		p.advance()
		u := &Use{}
		if nt := p.peekN(1); p.peekKw("CATALOG") && (nt.kind == tokIdent || nt.kind == tokQuoted) {
			p.advance()
			u.Catalog = true
		}
		u.Name = p.objectName()
		st = u
	case p.isKw("STOP") && p.peekN(1).isKw("JOB"):
		st = p.stopJob()
	case p.isKw("INSERT"):
		st = p.insert()
	case p.isKw("EXECUTE"):
		if p.peekN(1).isKw("INSERT") {
			p.advance()
			st = p.insert()
			break
		}
		st = p.statementSet()
	case p.isKw("BEGIN"):
		st = p.statementSet()
	case p.isKw("SELECT"), p.isKw("WITH"), p.isKw("VALUES"), p.isOp("("):
		st = &QueryStmt{Query: p.query()}
	case p.isKw("ALTER") && p.peekN(1).isKw("TABLE"):
		st = p.alterTable()
	case p.isKw("ALTER"), p.isKw("LOAD"), p.isKw("UNLOAD"), p.isKw("ANALYZE"), p.isKw("DELETE"), p.isKw("UPDATE"),
		p.isKw("TRUNCATE"), p.isKw("CALL"), p.isKw("ADD"), p.isKw("REMOVE"):
		p.fail(t.pos, "%s statements are not supported", t.upper)
		return &QueryStmt{}
	default:
		p.unexpected()
		return &QueryStmt{}
	}
	b := p.base(start)
	setBase(st, b)
	return st
}

func setBase(st Statement, b StmtBase) {
	switch s := st.(type) {
	case *CreateTable:
		s.StmtBase = b
	case *CreateView:
		s.StmtBase = b
	case *Drop:
		s.StmtBase = b
	case *Set:
		s.StmtBase = b
	case *Reset:
		s.StmtBase = b
	case *Show:
		s.StmtBase = b
	case *Describe:
		s.StmtBase = b
	case *Explain:
		s.StmtBase = b
	case *Insert:
		s.StmtBase = b
	case *StatementSet:
		s.StmtBase = b
	case *QueryStmt:
		s.StmtBase = b
	case *Use:
		s.StmtBase = b
	case *AlterTable:
		s.StmtBase = b
	case *StopJob:
		s.StmtBase = b
	case *DescribeJob:
		s.StmtBase = b
	case interface{ setBase(StmtBase) }:
		s.setBase(b)
	}
}

// stopJob parses Flink 1.17's STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN].
func (p *parser) stopJob() *StopJob {
	p.advance()
	p.advance()
	st := &StopJob{}
	st.ID, _ = p.stringLit()
	for p.acceptKw("WITH") {
		switch {
		case p.acceptKw("SAVEPOINT"):
			st.Savepoint = true
		case p.acceptKw("DRAIN"):
			st.Drain = true
		default:
			p.unexpected()
			return st
		}
	}
	return st
}

// ---- DDL ----

func (p *parser) create() Statement {
	p.advance()
	temporary := p.acceptKw("TEMPORARY")
	system := p.peekKw("SYSTEM")
	if system {
		p.advance()
	}
	switch {
	case p.isKw("TABLE"):
		p.advance()
		return p.createTable(temporary)
	case p.isKw("VIEW"):
		p.advance()
		return p.createView(temporary)
	case p.isKw("FUNCTION"):
		p.advance()
		return p.createFunction(temporary, system) // function.go
	case p.isKw("CATALOG"), p.isKw("DATABASE"):
		t := p.tok()
		p.fail(t.pos, "CREATE %s is not supported", t.upper)
	default:
		p.unexpected()
	}
	return &CreateTable{}
}

func (p *parser) ifNotExists() bool {
	if p.peekKw("IF") {
		p.advance()
		p.expectKw("NOT", "EXISTS")
		return true
	}
	p.want(`"IF"`)
	return false
}

func (p *parser) createTable(temporary bool) *CreateTable {
	ct := &CreateTable{Temporary: temporary}
	ct.IfNotExists = p.ifNotExists()
	ct.Name = p.objectName()
	if p.acceptOp("(") {
		for {
			p.tableElement(ct)
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	if p.acceptKw("COMMENT") {
		ct.Comment, _ = p.stringLit()
	}
	if p.acceptKw("PARTITIONED") {
		p.expectKw("BY")
		ct.PartitionBy = p.parenIdentList()
	}
	hasWith := false
	if p.acceptKw("WITH") {
		hasWith = true
		ct.Options = p.options()
	}
	if p.isKw("LIKE") {
		lt := p.advance()
		lc := &LikeClause{P: lt.pos, Source: p.objectName()}
		if p.acceptOp("(") {
			for !p.peekOp(")") && p.err == nil {
				st := p.tok()
				if !(p.isKw("INCLUDING") || p.isKw("EXCLUDING") || p.isKw("OVERWRITING")) {
					p.unexpected()
					break
				}
				p.advance()
				ft := p.tok()
				switch ft.upper {
				case "ALL", "CONSTRAINTS", "GENERATED", "OPTIONS", "PARTITIONS", "WATERMARKS", "METADATA":
					if ft.kind != tokIdent {
						p.unexpected()
					}
					p.advance()
				default:
					for _, f := range []string{"ALL", "CONSTRAINTS", "GENERATED", "METADATA", "OPTIONS", "PARTITIONS", "WATERMARKS"} {
						p.want(`"` + f + `"`)
					}
					p.unexpected()
				}
				lc.Options = append(lc.Options, st.upper+" "+ft.upper)
				p.acceptOp(",")
			}
			p.expectOp(")")
		}
		ct.Like = lc
	} else if !hasWith && p.err == nil {
		if p.peekKw("AS") {
			p.fail(p.pos(), "CREATE TABLE ... AS SELECT needs the new table's connector options first: CREATE TABLE t WITH ('connector' = '...', ...) AS SELECT ...")
			return ct
		}
		p.want(`"WITH"`)
		p.unexpected()
	}
	if p.err == nil && p.peekKw("AS") {
		// CREATE TABLE t WITH (...) AS query (Flink 1.16's CTAS): the columns come from the query.
		at := p.pos()
		p.advance()
		if len(ct.Columns) > 0 || ct.Watermark != nil || ct.PrimaryKey != nil || ct.Like != nil {
			p.fail(at, "CREATE TABLE ... AS SELECT takes its columns from the query: remove the column list (and LIKE)")
			return ct
		}
		qs := p.i
		ct.AsQuery = p.query()
		ct.AsQueryText = p.textFrom(qs)
	}
	return ct
}

// tableElement parses a column, WATERMARK or PRIMARY KEY inside CREATE TABLE ( ... ).
func (p *parser) tableElement(ct *CreateTable) {
	t := p.tok()
	switch {
	case p.isKw("WATERMARK") && p.peekN(1).isKw("FOR"):
		p.advance()
		p.advance()
		wm := &WatermarkDef{P: t.pos, Column: p.ident()}
		p.expectKw("AS")
		wm.Expr = p.expr()
		if ct.Watermark != nil {
			p.fail(t.pos, "Multiple WATERMARK statements is not supported yet.")
		}
		ct.Watermark = wm
		return
	case p.isKw("CONSTRAINT") && p.peekN(2).isKw("PRIMARY"):
		p.advance()
		p.ident()
		p.tableElement(ct)
		return
	case p.isKw("PRIMARY") && p.peekN(1).isKw("KEY"):
		p.advance()
		p.advance()
		pk := &PrimaryKeyDef{P: t.pos, Columns: p.parenIdentList()}
		pk.NotEnforced = p.notEnforced()
		p.setPK(ct, pk)
		return
	}
	col := &ColumnDef{}
	id := p.ident()
	col.P, col.Name = id.P, id.Name
	ct.Columns = append(ct.Columns, col)
	if p.acceptKw("AS") {
		col.Kind = ComputedColumn
		col.Expr = p.expr()
		if p.acceptKw("COMMENT") {
			col.Comment, _ = p.stringLit()
		}
		return
	}
	col.TypePos = p.pos()
	col.Type = p.dataType()
	for p.err == nil {
		ct := ct
		switch {
		case p.isKw("METADATA"):
			p.advance()
			col.Kind = MetadataColumn
			if p.acceptKw("FROM") {
				col.MetadataKey, _ = p.stringLit()
			}
			if p.acceptKw("VIRTUAL") {
				col.Virtual = true
			}
		case p.isKw("NOT") && p.peekN(1).isKw("NULL"):
			p.advance()
			p.advance()
			col.Type.NotNull = true
		case p.isKw("NULL"):
			p.advance()
			col.Type.NotNull = false
		case p.isKw("PRIMARY"):
			pt := p.advance()
			p.expectKw("KEY")
			pk := &PrimaryKeyDef{P: pt.pos, Columns: []Ident{id}}
			pk.NotEnforced = p.notEnforced()
			p.setPK(ct, pk)
		case p.isKw("CONSTRAINT") && p.peekN(2).isKw("PRIMARY"):
			p.advance()
			p.ident()
		case p.isKw("COMMENT"):
			p.advance()
			col.Comment, _ = p.stringLit()
		default:
			return
		}
	}
}

func (p *parser) notEnforced() bool {
	if p.acceptKw("NOT") {
		p.expectKw("ENFORCED")
		return true
	}
	if p.peekKw("ENFORCED") {
		p.fail(p.pos(), "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint. ENFORCED/NOT ENFORCED controls if the constraint checks are performed on the incoming/outgoing data. Flink does not own the data therefore the only supported mode is the NOT ENFORCED mode")
	}
	return false
}

func (p *parser) setPK(ct *CreateTable, pk *PrimaryKeyDef) {
	if ct.PrimaryKey != nil {
		p.fail(pk.P, "Duplicate definition for primary key")
		return
	}
	ct.PrimaryKey = pk
}

// options parses ( 'k' = 'v', ... ).
func (p *parser) options() []Option {
	p.expectOp("(")
	var out []Option
	if p.peekOp(")") {
		p.advance()
		return out
	}
	for p.err == nil {
		var o Option
		o.Key, o.P = p.stringLit()
		p.expectOp("=")
		o.Value, o.ValuePos = p.stringLit()
		out = append(out, o)
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return out
}

func (p *parser) createView(temporary bool) *CreateView {
	cv := &CreateView{Temporary: temporary}
	cv.IfNotExists = p.ifNotExists()
	cv.Name = p.objectName()
	if p.peekOp("(") {
		cv.Columns = p.parenIdentList()
	}
	if p.acceptKw("COMMENT") {
		p.stringLit()
	}
	p.expectKw("AS")
	qs := p.i
	cv.Query = p.query()
	cv.QueryText = p.textFrom(qs)
	return cv
}

func (p *parser) drop() Statement {
	p.advance()
	d := &Drop{}
	d.Temporary = p.acceptKw("TEMPORARY")
	system := p.peekKw("SYSTEM")
	if system {
		p.advance()
	}
	switch {
	case p.isKw("TABLE"):
		p.advance()
	case p.isKw("VIEW"):
		p.advance()
		d.View = true
	case p.isKw("FUNCTION"):
		p.advance()
		return p.dropFunction(d.Temporary, system) // function.go
	case p.isKw("CATALOG"), p.isKw("DATABASE"):
		t := p.tok()
		p.fail(t.pos, "DROP %s is not supported", t.upper)
		return d
	default:
		p.unexpected()
		return d
	}
	if p.acceptKw("IF") {
		p.expectKw("EXISTS")
		d.IfExists = true
	}
	d.Name = p.objectName()
	return d
}

// rawUntil consumes tokens until one satisfying stop (or the end) and returns their source text.
func (p *parser) rawUntil(stop func(token) bool) string {
	start := p.i
	for !p.atEnd() && !stop(p.tok()) {
		p.advance()
	}
	return p.textFrom(start)
}

func isOpTok(t token, op string) bool { return t.kind == tokOp && t.text == op }

// set parses SET; SET 'k' = 'v'; SET k = v (Flink 1.12 SQL client style, unquoted).
func (p *parser) set() *Set {
	p.advance()
	s := &Set{}
	if p.atEnd() {
		return s
	}
	if p.tok().kind == tokString {
		s.Key, _ = p.stringLit()
	} else {
		s.Key = p.rawUntil(func(t token) bool { return isOpTok(t, "=") })
		if s.Key == "" {
			p.want("<string literal>")
			p.unexpected()
			return s
		}
	}
	p.expectOp("=")
	if p.tok().kind == tokString && (p.peekN(1).kind == tokEOF || isOpTok(p.peekN(1), ";")) {
		s.Value, _ = p.stringLit()
		return s
	}
	s.Value = p.rawUntil(func(token) bool { return false })
	if s.Value == "" {
		p.want("<string literal>")
		p.unexpected()
	}
	return s
}

func (p *parser) reset() *Reset {
	p.advance()
	r := &Reset{}
	if p.atEnd() {
		return r
	}
	if p.tok().kind == tokString {
		r.Key, _ = p.stringLit()
		return r
	}
	r.Key = p.rawUntil(func(token) bool { return false })
	return r
}

func (p *parser) show() *Show {
	p.advance()
	s := &Show{}
	t := p.tok()
	switch {
	case p.isKw("TABLES"), p.isKw("VIEWS"), p.isKw("FUNCTIONS"), p.isKw("CATALOGS"), p.isKw("DATABASES"),
		p.isKw("JOBS"), p.isKw("MODULES"):
		p.advance()
		s.What = t.upper
	case p.isKw("USER"):
		p.advance()
		p.expectKw("FUNCTIONS")
		s.What = "USER FUNCTIONS"
	case p.isKw("FULL"):
		p.advance()
		p.expectKw("MODULES")
		s.What = "FULL MODULES"
	case p.isKw("CURRENT"):
		p.advance()
		ct := p.tok()
		if p.isKw("CATALOG") || p.isKw("DATABASE") {
			p.advance()
			s.What = "CURRENT " + ct.upper
		} else {
			p.unexpected()
		}
	case p.isKw("CREATE"):
		p.advance()
		kt := p.tok()
		if !p.isKw("TABLE") && !p.isKw("VIEW") {
			p.unexpected()
		}
		p.advance()
		s.What = "CREATE " + kt.upper
		s.Name = p.objectName()
	case p.isKw("COLUMNS"), p.isKw("PARTITIONS"):
		p.fail(t.pos, "SHOW %s is not supported", t.upper)
	default:
		p.unexpected()
	}
	return s
}

var explainDetails = map[string]bool{"CHANGELOG_MODE": true, "ESTIMATED_COST": true, "JSON_EXECUTION_PLAN": true, "PLAN_ADVICE": true, "VERBOSE": true}

func (p *parser) explain() *Explain {
	p.advance()
	e := &Explain{}
	if p.acceptKw("PLAN") {
		p.expectKw("FOR")
	}
	for p.err == nil {
		t := p.tok()
		if t.kind == tokIdent && explainDetails[t.upper] {
			p.advance()
			e.Details = append(e.Details, t.upper)
			if p.acceptOp(",") {
				continue
			}
		}
		break
	}
	start := p.i
	var st Statement
	switch {
	case p.isKw("INSERT"):
		st = p.insert()
	case p.isKw("EXECUTE"), p.isKw("STATEMENT"), p.isKw("BEGIN"):
		st = p.statementSet()
	case p.isKw("SELECT"), p.isKw("WITH"), p.isKw("VALUES"), p.isOp("("):
		st = &QueryStmt{Query: p.query()}
	default:
		p.want(`"CHANGELOG_MODE"`)
		p.want(`"ESTIMATED_COST"`)
		p.unexpected()
		st = &QueryStmt{}
	}
	setBase(st, p.base(start))
	e.Stmt = st
	return e
}

func (p *parser) insert() *Insert {
	p.advance()
	ins := &Insert{}
	if p.acceptKw("OVERWRITE") {
		ins.Overwrite = true
	} else {
		p.expectKw("INTO")
	}
	ins.Table = p.objectName()
	if p.peekN(0).kind == tokHintStart {
		ins.Hints = p.hints()
	}
	if p.acceptKw("PARTITION") {
		p.expectOp("(")
		for p.err == nil {
			var o Option
			id := p.ident()
			o.Key, o.P = id.Name, id.P
			p.expectOp("=")
			lt := p.tok()
			o.ValuePos = lt.pos
			switch lt.kind {
			case tokString, tokInt, tokDecimal, tokFloat:
				p.advance()
				o.Value = lt.text
			default:
				p.want("<literal>")
				p.unexpected()
			}
			ins.Partition = append(ins.Partition, o)
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	if p.peekOp("(") && !p.peekN(1).isKw("SELECT") && !p.peekN(1).isKw("WITH") && !p.peekN(1).isKw("VALUES") && !isOpTok(p.peekN(1), "(") {
		ins.Columns = p.parenIdentList()
	}
	ins.Query = p.query()
	return ins
}

// statementSet parses EXECUTE STATEMENT SET BEGIN insert; ... END, BEGIN STATEMENT SET; insert; ... END and
// (after EXPLAIN) STATEMENT SET BEGIN ... END.
func (p *parser) statementSet() *StatementSet {
	ss := &StatementSet{}
	if p.acceptKw("BEGIN") {
		p.expectKw("STATEMENT", "SET")
		p.expectOp(";")
	} else {
		p.acceptKw("EXECUTE")
		p.expectKw("STATEMENT", "SET", "BEGIN")
	}
	for p.err == nil {
		if p.acceptOp(";") {
			continue
		}
		if p.isKw("END") {
			p.advance()
			break
		}
		start := p.i
		if !p.isKw("INSERT") {
			if t := p.tok(); t.kind == tokEOF {
				p.fail(t.pos, "Encountered \"<EOF>\" at line %d, column %d. The statement set is not closed: end it with END;", t.pos.Line, t.pos.Col)
				break
			}
			p.unexpected()
			break
		}
		ins := p.insert()
		ins.StmtBase = p.base(start)
		ss.Inserts = append(ss.Inserts, ins)
		if !p.isKw("END") {
			p.expectOp(";")
		}
	}
	return ss
}

// alterTable parses ALTER TABLE [IF EXISTS] name RENAME TO new | SET (options) | RESET (keys).
func (p *parser) alterTable() *AlterTable {
	p.advance() // ALTER
	p.advance() // TABLE
	a := &AlterTable{}
	if p.isKw("IF") {
		p.advance()
		p.expectKw("EXISTS")
		a.IfExists = true
	}
	a.Name = p.objectName()
	switch {
	case p.acceptKw("RENAME"):
		p.expectKw("TO")
		n := p.objectName()
		a.RenameTo = &n
	case p.acceptKw("SET"):
		a.Set = p.options()
	case p.acceptKw("RESET"):
		p.expectOp("(")
		for p.err == nil {
			t := p.tok()
			k, _ := p.stringLit()
			a.Reset = append(a.Reset, Option{P: t.pos, Key: k})
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	default:
		p.want(`"RENAME"`)
		p.want(`"SET"`)
		p.want(`"RESET"`)
		p.unexpected()
	}
	return a
}
