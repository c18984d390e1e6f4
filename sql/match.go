package sql

import (
	"strconv"
	"strings"
)

// MatchRecognize is `input MATCH_RECOGNIZE ( ... ) [AS] alias`, Flink's row pattern recognition (Flink docs,
// "Pattern Recognition"). The parser accepts the syntax Flink accepts and refuses, with a positioned "not
// supported yet", the pattern syntax Flink refuses (groups, alternation, PERMUTE, anchors, exclusion,
// reluctant optional quantifiers, SUBSET). ALL ROWS PER MATCH is parsed (AllRows) and refused by the binder.
type MatchRecognize struct {
	P           Pos // the MATCH_RECOGNIZE keyword
	Input       TableExpr
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Measures    []*MatchMeasure
	AllRows     bool
	AllRowsPos  Pos
	After       *MatchSkip // nil: AFTER MATCH SKIP PAST LAST ROW (the default, as in the SQL standard)
	Pattern     []*PatternTerm
	PatternPos  Pos
	Within      Expr // WITHIN INTERVAL '...' or nil
	Define      []*MatchDefine
	Alias       string
	ColAliases  []Ident
}

// MatchMeasure is `expr AS name` in MEASURES.
type MatchMeasure struct {
	Expr Expr
	Name Ident
}

// MatchDefine is `var AS condition` in DEFINE.
type MatchDefine struct {
	Name Ident
	Cond Expr
}

// MatchSkip is the AFTER MATCH SKIP clause: Kind is "PAST LAST ROW", "TO NEXT ROW", "TO FIRST" or "TO LAST"
// (the last two with Var).
type MatchSkip struct {
	P    Pos
	Kind string
	Var  Ident
}

// PatternTerm is one pattern variable with its quantifier: Min..Max rows (Max -1: unbounded); a variable
// without quantifier is {1,1}. Quant is the quantifier as written ("", "*", "+?", "{2,3}", ...).
type PatternTerm struct {
	P         Pos
	Var       string
	Min, Max  int
	Reluctant bool
	Quant     string
}

func (t *MatchRecognize) Position() Pos { return t.P }
func (*MatchRecognize) tableExpr()      {}

// maybeMatchRecognize parses `MATCH_RECOGNIZE (...) [AS] alias` after a table primary, if present.
func (p *parser) maybeMatchRecognize(in TableExpr) TableExpr {
	if !p.peekKw("MATCH_RECOGNIZE") {
		return in
	}
	t := p.advance()
	m := &MatchRecognize{P: t.pos, Input: in}
	p.expectOp("(")
	if p.acceptKw("PARTITION") {
		p.expectKw("BY")
		for p.err == nil {
			m.PartitionBy = append(m.PartitionBy, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("ORDER") {
		p.expectKw("BY")
		m.OrderBy = p.orderItems()
	}
	if p.acceptKw("MEASURES") {
		for p.err == nil {
			// FINAL/RUNNING semantics: the same with ONE ROW PER MATCH (Flink), so the keyword is dropped.
			if t := p.tok(); (t.isKw("FINAL") || t.isKw("RUNNING")) && p.peekN(1).kind == tokIdent && !p.peekN(1).isKw("AS") {
				p.advance()
			}
			e := p.expr()
			p.expectKw("AS")
			m.Measures = append(m.Measures, &MatchMeasure{Expr: e, Name: p.ident()})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	switch {
	case p.peekKw("ONE"):
		p.expectKw("ONE", "ROW", "PER", "MATCH")
	case p.peekKw("ALL"):
		m.AllRows, m.AllRowsPos = true, p.pos()
		p.expectKw("ALL", "ROWS", "PER", "MATCH")
	}
	if p.peekKw("AFTER") {
		m.After = &MatchSkip{P: p.pos()}
		p.expectKw("AFTER", "MATCH", "SKIP")
		switch {
		case p.acceptKw("PAST"):
			p.expectKw("LAST", "ROW")
			m.After.Kind = "PAST LAST ROW"
		case p.acceptKw("TO"):
			switch {
			case p.acceptKw("NEXT"):
				p.expectKw("ROW")
				m.After.Kind = "TO NEXT ROW"
			case p.acceptKw("FIRST"):
				m.After.Kind, m.After.Var = "TO FIRST", p.ident()
			case p.acceptKw("LAST"):
				m.After.Kind, m.After.Var = "TO LAST", p.ident()
			default:
				// SKIP TO v (SQL standard: TO LAST v)
				m.After.Kind, m.After.Var = "TO LAST", p.ident()
			}
		default:
			p.unexpected()
		}
	}
	m.PatternPos = p.pos()
	p.expectKw("PATTERN")
	m.Pattern = p.pattern()
	if p.acceptKw("WITHIN") {
		m.Within = p.expr()
	}
	if p.peekKw("SUBSET") {
		p.fail(p.pos(), "SUBSET in MATCH_RECOGNIZE is not supported yet")
	}
	p.expectKw("DEFINE")
	for p.err == nil {
		d := &MatchDefine{Name: p.ident()}
		p.expectKw("AS")
		d.Cond = p.expr()
		m.Define = append(m.Define, d)
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	m.Alias, m.ColAliases = p.tableAlias()
	return m
}

// pattern parses ( term term ... ) of PATTERN.
func (p *parser) pattern() []*PatternTerm {
	p.expectOp("(")
	var out []*PatternTerm
	for p.err == nil {
		t := p.tok()
		switch {
		case p.peekOp(")"):
			if len(out) == 0 {
				p.want("<pattern variable>")
				p.unexpected()
			}
			p.advance()
			return out
		case p.peekOp("("):
			p.fail(t.pos, "pattern groups (a quantifier or a sequence in parentheses) are not supported yet in MATCH_RECOGNIZE; Flink supports a flat sequence of variables, e.g. PATTERN (A B+ C)")
		case p.peekOp("|"):
			p.fail(t.pos, "pattern alternation (|) is not supported yet in MATCH_RECOGNIZE; Flink supports a flat sequence of variables, e.g. PATTERN (A B+ C)")
		case p.peekOp("^"):
			p.fail(t.pos, "pattern anchors (^, $) are not supported in MATCH_RECOGNIZE")
		case p.peekOp("{") && isOpTok(p.peekN(1), "-"):
			p.fail(t.pos, "pattern exclusion ({- ... -}) is not supported yet in MATCH_RECOGNIZE")
		case t.kind == tokIdent && t.upper == "PERMUTE" && isOpTok(p.peekN(1), "("):
			p.fail(t.pos, "PERMUTE is not supported yet in MATCH_RECOGNIZE")
		default:
			v := p.ident()
			out = append(out, p.quantifier(&PatternTerm{P: t.pos, Var: v.Name, Min: 1, Max: 1}))
		}
	}
	return out
}

// quantifier parses an optional quantifier after a pattern variable.
func (p *parser) quantifier(term *PatternTerm) *PatternTerm {
	t := p.tok()
	switch {
	case p.peekOp("*"):
		p.advance()
		term.Min, term.Max, term.Quant = 0, -1, "*"
	case p.peekOp("+"):
		p.advance()
		term.Min, term.Max, term.Quant = 1, -1, "+"
	case t.kind == tokParam && t.text == "?":
		p.advance()
		term.Min, term.Max, term.Quant = 0, 1, "?"
	case p.peekOp("{") && isOpTok(p.peekN(1), "-"):
		p.fail(t.pos, "pattern exclusion ({- ... -}) is not supported yet in MATCH_RECOGNIZE")
		return term
	case p.peekOp("{"):
		p.advance()
		lo, hi := -1, -1
		if p.tok().kind == tokInt {
			lo = p.quantBound()
		}
		comma := p.acceptOp(",")
		if comma && p.tok().kind == tokInt {
			hi = p.quantBound()
		}
		p.expectOp("}")
		switch {
		case !comma && lo < 0:
			p.fail(t.pos, "a quantifier {n}, {n,}, {n,m} or {,m} needs a number")
		case !comma:
			hi = lo
		case lo < 0:
			lo = 0
		}
		if p.err == nil && hi >= 0 && (hi < lo || hi == 0) {
			p.fail(t.pos, "invalid quantifier: the maximum must be positive and not smaller than the minimum")
		}
		term.Min, term.Max = lo, hi
		term.Quant = p.src[t.start:p.prev().end]
	default:
		return term
	}
	if n := p.tok(); n.kind == tokParam && n.text == "?" {
		p.advance()
		term.Reluctant = true
		term.Quant += "?"
	}
	return term
}

// quantBound reads an integer token that fits a quantifier.
func (p *parser) quantBound() int {
	t := p.advance()
	n, err := strconv.Atoi(t.text)
	if err != nil || n > 1<<20 {
		p.fail(t.pos, "quantifier bound %s is too large (at most %d)", t.text, 1<<20)
		return 0
	}
	return n
}

// PatternText prints a pattern as written: "A B+ C*?".
func PatternText(terms []*PatternTerm) string {
	var parts []string
	for _, t := range terms {
		parts = append(parts, QuoteIdentIfNeeded(t.Var)+t.Quant)
	}
	return strings.Join(parts, " ")
}

// writeMatchRecognize formats a MATCH_RECOGNIZE clause (FormatQuery).
func writeMatchRecognize(b *strings.Builder, m *MatchRecognize) {
	writeTable(b, m.Input)
	b.WriteString(" MATCH_RECOGNIZE (")
	sep := func(i int) {
		if i > 0 {
			b.WriteString(", ")
		}
	}
	if len(m.PartitionBy) > 0 {
		b.WriteString("PARTITION BY ")
		for i, e := range m.PartitionBy {
			sep(i)
			writeExpr(b, e, 0)
		}
		b.WriteString(" ")
	}
	if len(m.OrderBy) > 0 {
		b.WriteString("ORDER BY ")
		for i, o := range m.OrderBy {
			sep(i)
			writeExpr(b, o.Expr, 0)
			if o.Desc {
				b.WriteString(" DESC")
			}
		}
		b.WriteString(" ")
	}
	if len(m.Measures) > 0 {
		b.WriteString("MEASURES ")
		for i, ms := range m.Measures {
			sep(i)
			writeExpr(b, ms.Expr, 0)
			b.WriteString(" AS " + QuoteIdentIfNeeded(ms.Name.Name))
		}
		b.WriteString(" ")
	}
	if m.AllRows {
		b.WriteString("ALL ROWS PER MATCH ")
	} else {
		b.WriteString("ONE ROW PER MATCH ")
	}
	if m.After != nil {
		b.WriteString("AFTER MATCH SKIP " + m.After.Kind)
		if m.After.Var.Name != "" {
			b.WriteString(" " + QuoteIdentIfNeeded(m.After.Var.Name))
		}
		b.WriteString(" ")
	}
	b.WriteString("PATTERN (" + PatternText(m.Pattern) + ")")
	if m.Within != nil {
		b.WriteString(" WITHIN ")
		writeExpr(b, m.Within, 0)
	}
	b.WriteString(" DEFINE ")
	for i, d := range m.Define {
		sep(i)
		b.WriteString(QuoteIdentIfNeeded(d.Name.Name) + " AS ")
		writeExpr(b, d.Cond, 0)
	}
	b.WriteString(")")
	writeAlias(b, m.Alias, m.ColAliases)
}
