package sql

import (
	"strconv"
	"strings"
)

// expr parses an expression (lowest precedence: OR).
func (p *parser) expr() Expr {
	if !p.enter() {
		return &Literal{P: p.pos()}
	}
	defer p.leave()
	p.exprNest++
	left := p.andExpr()
	for p.err == nil && p.peekKw("OR") {
		p.advance()
		right := p.andExpr()
		left = &Binary{P: left.Position(), Op: "OR", L: left, R: right}
	}
	if p.exprNest--; p.exprNest == 0 {
		p.checkDepth(left) // the outermost expression: checked once, as a whole
	}
	return left
}

// checkedAdditive is additive for the places that parse one outside expr (so not depth-checked there).
func (p *parser) checkedAdditive() Expr {
	e := p.additive()
	if p.exprNest == 0 {
		p.checkDepth(e)
	}
	return e
}

func (p *parser) andExpr() Expr {
	left := p.notExpr()
	for p.err == nil && p.peekKw("AND") {
		p.advance()
		right := p.notExpr()
		left = &Binary{P: left.Position(), Op: "AND", L: left, R: right}
	}
	return left
}

func (p *parser) notExpr() Expr {
	if p.peekKw("NOT") {
		t := p.advance()
		if !p.enter() {
			return &Literal{P: t.pos}
		}
		defer p.leave()
		return &Unary{P: t.pos, Op: "NOT", X: p.notExpr()}
	}
	return p.comparison()
}

var comparisonOps = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

// comparison parses comparisons and the predicates IS, IN, BETWEEN, LIKE, SIMILAR TO (left-associative).
func (p *parser) comparison() Expr {
	left := p.additive()
	for p.err == nil {
		t := p.tok()
		if t.kind == tokOp && comparisonOps[t.text] {
			p.advance()
			op := t.text
			if op == "!=" {
				op = "<>"
			}
			if p.peekKw("ANY") || p.peekKw("SOME") || p.peekKw("ALL") {
				p.fail(p.pos(), "Quantified comparisons (%s %s (subquery)) are not supported", op, p.tok().upper)
				return left
			}
			right := p.additive()
			left = &Binary{P: left.Position(), Op: op, L: left, R: right}
			continue
		}
		if p.peekKw("IS") {
			p.advance()
			not := p.acceptKw("NOT")
			w := p.tok()
			switch {
			case p.isKw("NULL"), p.isKw("TRUE"), p.isKw("FALSE"), p.isKw("UNKNOWN"):
				p.advance()
				left = &IsTest{P: left.Position(), X: left, Not: not, What: w.upper}
			case p.isKw("DISTINCT"):
				p.advance()
				p.expectKw("FROM")
				op := "IS DISTINCT FROM"
				if not {
					op = "IS NOT DISTINCT FROM"
				}
				right := p.additive()
				left = &Binary{P: left.Position(), Op: op, L: left, R: right}
			default:
				p.unexpected()
			}
			continue
		}
		not := false
		if p.peekKw("NOT") {
			n := p.peekN(1)
			if !(n.isKw("IN") || n.isKw("BETWEEN") || n.isKw("LIKE") || n.isKw("SIMILAR")) {
				return left
			}
			p.advance()
			not = true
		}
		switch {
		case p.peekKw("IN"):
			p.advance()
			in := &In{P: left.Position(), X: left, Not: not}
			p.expectOp("(")
			if n := p.tok(); n.isKw("SELECT") || n.isKw("WITH") || n.isKw("VALUES") {
				in.Query = p.query()
			} else {
				for p.err == nil {
					in.List = append(in.List, p.expr())
					if !p.acceptOp(",") {
						break
					}
				}
			}
			p.expectOp(")")
			left = in
		case p.peekKw("BETWEEN"):
			p.advance()
			b := &Between{P: left.Position(), X: left, Not: not}
			if !p.acceptKw("SYMMETRIC") {
				p.acceptKw("ASYMMETRIC")
			} else {
				b.Symmetric = true
			}
			b.Lo = p.additive()
			p.expectKw("AND")
			b.Hi = p.additive()
			left = b
		case p.peekKw("LIKE"), p.peekKw("SIMILAR"):
			lt := p.advance()
			l := &Like{P: left.Position(), X: left, Not: not, Similar: lt.upper == "SIMILAR"}
			if l.Similar {
				p.expectKw("TO")
			}
			l.Pattern = p.additive()
			if p.acceptKw("ESCAPE") {
				l.Escape = p.additive()
			}
			left = l
		default:
			if not {
				p.unexpected()
			}
			return left
		}
	}
	return left
}

// additive parses + and - (Calcite precedence 40).
func (p *parser) additive() Expr {
	left := p.multiplicative()
	for p.err == nil && (p.peekOp("+") || p.peekOp("-")) {
		op := p.advance().text
		right := p.multiplicative()
		left = &Binary{P: left.Position(), Op: op, L: left, R: right}
	}
	return left
}

// multiplicative parses * / % and || (Calcite gives || the precedence of *).
func (p *parser) multiplicative() Expr {
	left := p.unary()
	for p.err == nil && (p.peekOp("*") || p.peekOp("/") || p.peekOp("%") || p.peekOp("||")) {
		op := p.advance().text
		right := p.unary()
		left = &Binary{P: left.Position(), Op: op, L: left, R: right}
	}
	return left
}

func (p *parser) unary() Expr {
	if p.peekOp("-") || p.peekOp("+") {
		t := p.advance()
		if !p.enter() {
			return &Literal{P: t.pos}
		}
		defer p.leave()
		return &Unary{P: t.pos, Op: t.text, X: p.unary()}
	}
	return p.postfix()
}

// postfix parses x[i] and x.field after a primary expression.
func (p *parser) postfix() Expr {
	x := p.primary()
	for p.err == nil {
		switch {
		case p.peekOp("["):
			p.advance()
			idx := p.expr()
			p.expectOp("]")
			x = &Index{P: x.Position(), X: x, Index: idx}
		case p.peekOp(".") && (p.peekN(1).kind == tokIdent || p.peekN(1).kind == tokQuoted):
			p.advance()
			f := p.advance()
			if cr, ok := x.(*ColumnRef); ok {
				cr.Parts = append(cr.Parts, f.text)
				continue
			}
			x = &FieldAccess{P: x.Position(), X: x, Field: f.text}
		default:
			return x
		}
	}
	return x
}

// niladic are the functions called without parentheses.
var niladic = map[string]bool{"CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true,
	"LOCALTIMESTAMP": true, "LOCALTIME": true}

// reservedFuncs are reserved words that may still name a function when followed by "(".
var reservedFuncs = map[string]bool{"LEFT": true, "RIGHT": true}

func (p *parser) primary() Expr {
	t := p.tok()
	switch t.kind {
	case tokInt:
		p.advance()
		return &Literal{P: t.pos, Kind: LitInteger, Text: t.text}
	case tokDecimal:
		p.advance()
		return &Literal{P: t.pos, Kind: LitDecimal, Text: t.text}
	case tokFloat:
		p.advance()
		return &Literal{P: t.pos, Kind: LitFloat, Text: t.text}
	case tokString:
		p.advance()
		return &Literal{P: t.pos, Kind: LitString, Text: t.text}
	case tokBinary:
		p.advance()
		return &Literal{P: t.pos, Kind: LitBinary, Text: t.text}
	case tokParam:
		p.advance()
		if t.text == "?" {
			*p.params++
			return &Param{P: t.pos, Index: *p.params}
		}
		n, err := strconv.Atoi(t.text)
		if err != nil || n < 1 {
			p.fail(t.pos, "Invalid parameter $%s: parameters are numbered from $1", t.text)
		}
		return &Param{P: t.pos, Index: n, Dollar: true}
	case tokOp:
		if t.text == "(" {
			return p.parenExpr()
		}
	case tokQuoted:
		return p.nameExpr()
	case tokIdent:
		if e := p.keywordExpr(t); e != nil {
			return e
		}
		if !reserved[t.upper] || reservedFuncs[t.upper] && isOpTok(p.peekN(1), "(") {
			return p.nameExpr()
		}
	}
	p.want("<expression>")
	p.unexpected()
	return &Literal{P: t.pos}
}

// parenExpr parses (subquery), (expr) and the row (a, b, ...).
func (p *parser) parenExpr() Expr {
	t := p.advance()
	if n := p.tok(); n.isKw("SELECT") || n.isKw("WITH") || n.isKw("VALUES") {
		q := p.query()
		p.expectOp(")")
		return &SubqueryExpr{P: t.pos, Query: q}
	}
	e := p.expr()
	if p.peekOp(",") {
		c := &Constructor{P: t.pos, Kind: "ROW", Elems: []Expr{e}}
		for p.acceptOp(",") {
			c.Elems = append(c.Elems, p.expr())
		}
		p.expectOp(")")
		return c
	}
	p.expectOp(")")
	return &Paren{P: t.pos, X: e}
}

// keywordExpr parses the expressions introduced by a keyword; nil when t does not start one.
func (p *parser) keywordExpr(t token) Expr {
	next := p.peekN(1)
	switch t.upper {
	case "TRUE", "FALSE":
		p.advance()
		return &Literal{P: t.pos, Kind: LitBool, Bool: t.upper == "TRUE"}
	case "NULL":
		p.advance()
		return &Literal{P: t.pos, Kind: LitNull}
	case "UNKNOWN":
		p.advance()
		return &Literal{P: t.pos, Kind: LitNull, Text: "UNKNOWN"}
	case "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ":
		kind := map[string]LitKind{"DATE": LitDate, "TIME": LitTime, "TIMESTAMP": LitTimestamp, "TIMESTAMP_LTZ": LitTimestampLTZ}[t.upper]
		if next.kind == tokString {
			p.advance()
			s := p.advance()
			return &Literal{P: t.pos, Kind: kind, Text: s.text}
		}
		if t.upper == "TIMESTAMP" && next.isKw("WITH") && p.peekN(2).isKw("LOCAL") {
			p.advance()
			p.expectKw("WITH", "LOCAL", "TIME", "ZONE")
			s, _ := p.stringLit()
			return &Literal{P: t.pos, Kind: LitTimestampLTZ, Text: s}
		}
		if t.upper == "TIMESTAMP_LTZ" {
			return nil
		}
		p.advance()
		p.want("<string literal>")
		p.unexpected()
		return &Literal{P: t.pos}
	case "INTERVAL":
		return p.intervalLit()
	case "CASE":
		return p.caseExpr()
	case "CAST", "TRY_CAST":
		if t.upper == "TRY_CAST" && !isOpTok(next, "(") {
			return nil
		}
		p.advance()
		p.expectOp("(")
		c := &Cast{P: t.pos, Try: t.upper == "TRY_CAST"}
		c.X = p.expr()
		p.expectKw("AS")
		c.TypePos = p.pos()
		c.Type = p.dataType()
		p.expectOp(")")
		return c
	case "EXISTS":
		p.advance()
		p.expectOp("(")
		e := &Exists{P: t.pos, Query: p.query()}
		p.expectOp(")")
		return e
	case "ARRAY", "MAP":
		if !isOpTok(next, "[") {
			if t.upper == "MAP" {
				return nil
			}
			p.advance()
			p.want(`"["`)
			p.unexpected()
			return &Literal{P: t.pos}
		}
		p.advance()
		p.advance()
		c := &Constructor{P: t.pos, Kind: t.upper}
		if !p.peekOp("]") {
			for p.err == nil {
				c.Elems = append(c.Elems, p.expr())
				if !p.acceptOp(",") {
					break
				}
			}
		}
		p.expectOp("]")
		if c.Kind == "MAP" && len(c.Elems)%2 != 0 && p.err == nil {
			p.fail(t.pos, "MAP[...] needs an even number of arguments (key, value, ...), got %d", len(c.Elems))
		}
		return c
	case "ROW":
		p.advance()
		p.expectOp("(")
		c := &Constructor{P: t.pos, Kind: "ROW"}
		if !p.peekOp(")") {
			for p.err == nil {
				c.Elems = append(c.Elems, p.expr())
				if !p.acceptOp(",") {
					break
				}
			}
		}
		p.expectOp(")")
		return c
	}
	if niladic[t.upper] {
		p.advance()
		if isOpTok(p.tok(), "(") && isOpTok(p.peekN(1), ")") {
			p.advance()
			p.advance()
		}
		return &FuncCall{P: t.pos, Name: t.upper}
	}
	if !isOpTok(next, "(") {
		return nil
	}
	switch t.upper {
	case "EXTRACT":
		if n2 := p.peekN(2); n2.kind == tokIdent && p.peekN(3).isKw("FROM") {
			p.advance()
			p.advance()
			unit := p.advance()
			p.advance()
			x := p.expr()
			p.expectOp(")")
			return p.callTail(&FuncCall{P: t.pos, Name: "EXTRACT", Args: []Expr{&Literal{P: unit.pos, Kind: LitString, Text: unit.upper}, x}})
		}
	case "TRIM":
		return p.trim(t)
	case "SUBSTRING", "SUBSTR", "OVERLAY", "POSITION", "CEIL", "CEILING", "FLOOR":
		return p.specialCall(t)
	case "TIMESTAMPADD", "TIMESTAMPDIFF":
		if n2 := p.peekN(2); n2.kind == tokIdent && isOpTok(p.peekN(3), ",") {
			p.advance()
			p.advance()
			unit := p.advance()
			f := &FuncCall{P: t.pos, Name: t.upper, Args: []Expr{&Literal{P: unit.pos, Kind: LitString, Text: unit.upper}}}
			for p.acceptOp(",") {
				f.Args = append(f.Args, p.expr())
			}
			p.expectOp(")")
			return p.callTail(f)
		}
	}
	return nil
}

func (p *parser) intervalLit() Expr {
	t := p.advance()
	iv := &IntervalLit{P: t.pos}
	if p.peekOp("-") {
		p.advance()
		iv.Negative = true
	} else if p.peekOp("+") {
		p.advance()
	}
	v := p.tok()
	switch v.kind {
	case tokString, tokInt, tokDecimal:
		p.advance()
		iv.Value = v.text
	default:
		p.want("<string literal>")
		p.unexpected()
		return iv
	}
	iv.Unit, iv.Prec = p.intervalUnit(true)
	if p.peekKw("TO") {
		tt := p.advance()
		iv.ToUnit, _ = p.intervalUnit(false)
		if p.err == nil && !validIntervalRange(iv.Unit, iv.ToUnit) {
			p.fail(tt.pos, "Illegal interval qualifier %s TO %s", iv.Unit, iv.ToUnit)
		}
	}
	return iv
}

var intervalUnits = map[string]string{"YEAR": "YEAR", "YEARS": "YEAR", "MONTH": "MONTH", "MONTHS": "MONTH",
	"DAY": "DAY", "DAYS": "DAY", "HOUR": "HOUR", "HOURS": "HOUR", "MINUTE": "MINUTE", "MINUTES": "MINUTE",
	"SECOND": "SECOND", "SECONDS": "SECOND"}

var unitOrder = map[string]int{"YEAR": 0, "MONTH": 1, "DAY": 2, "HOUR": 3, "MINUTE": 4, "SECOND": 5}

func validIntervalRange(from, to string) bool {
	if from == "YEAR" {
		return to == "MONTH"
	}
	return unitOrder[from] >= 2 && unitOrder[to] > unitOrder[from]
}

// intervalUnit parses a unit with an optional precision: DAY(3), SECOND(2, 3). It returns the leading
// precision (0 when absent).
func (p *parser) intervalUnit(leading bool) (string, int) {
	t := p.tok()
	u, ok := intervalUnits[t.upper]
	if t.kind != tokIdent || !ok {
		for _, w := range []string{"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"} {
			p.want(`"` + w + `"`)
		}
		p.unexpected()
		return "SECOND", 0
	}
	p.advance()
	prec := 0
	if p.peekOp("(") {
		p.advance()
		prec = p.smallInt(1, 9, "Interval precision")
		if p.acceptOp(",") {
			p.smallInt(0, 9, "Interval fractional second precision")
		}
		p.expectOp(")")
	}
	if !leading {
		prec = 0
	}
	return u, prec
}

// smallInt parses an unsigned integer literal within [lo, hi].
func (p *parser) smallInt(lo, hi int, what string) int {
	t := p.tok()
	if t.kind != tokInt {
		p.want("<integer>")
		p.unexpected()
		return lo
	}
	p.advance()
	n, err := strconv.Atoi(t.text)
	if err != nil || n < lo || n > hi {
		p.fail(t.pos, "%s must be between %d and %d (both inclusive).", what, lo, hi)
		return lo
	}
	return n
}

func (p *parser) caseExpr() Expr {
	t := p.advance()
	c := &Case{P: t.pos}
	if !p.peekKw("WHEN") {
		c.Operand = p.expr()
	}
	for p.err == nil && p.isKw("WHEN") {
		p.advance()
		w := &When{Cond: p.expr()}
		p.expectKw("THEN")
		w.Result = p.expr()
		c.Whens = append(c.Whens, w)
	}
	if len(c.Whens) == 0 {
		p.unexpected()
	}
	if p.acceptKw("ELSE") {
		c.Else = p.expr()
	}
	p.expectKw("END")
	return c
}

// trim parses TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) and TRIM(s) into TRIM(mode, chars|NULL, s).
func (p *parser) trim(t token) Expr {
	p.advance()
	open := p.advance()
	f := &FuncCall{P: t.pos, Name: "TRIM"}
	mode := "BOTH"
	modeGiven := false
	if m := p.tok(); m.isKw("BOTH") || m.isKw("LEADING") || m.isKw("TRAILING") {
		p.advance()
		mode, modeGiven = m.upper, true
	}
	modeLit := &Literal{P: open.pos, Kind: LitString, Text: mode}
	if p.acceptKw("FROM") {
		f.Args = []Expr{modeLit, &Literal{P: open.pos, Kind: LitNull}, p.expr()}
		p.expectOp(")")
		return p.callTail(f)
	}
	first := p.expr()
	switch {
	case p.acceptKw("FROM"):
		f.Args = []Expr{modeLit, first, p.expr()}
	case !modeGiven && p.peekOp(","):
		f.Args = []Expr{first}
		for p.acceptOp(",") {
			f.Args = append(f.Args, p.expr())
		}
	case !modeGiven:
		f.Args = []Expr{modeLit, &Literal{P: open.pos, Kind: LitNull}, first}
	default:
		p.expectKw("FROM")
	}
	p.expectOp(")")
	return p.callTail(f)
}

// specialCall parses SUBSTRING(s FROM a [FOR b]), OVERLAY(s PLACING r FROM a [FOR b]), POSITION(a IN b),
// CEIL/FLOOR(x TO unit) and their plain-argument forms.
func (p *parser) specialCall(t token) Expr {
	p.advance()
	p.advance()
	name := t.upper
	if name == "CEILING" {
		name = "CEIL"
	}
	f := &FuncCall{P: t.pos, Name: name}
	var first Expr
	if name == "POSITION" {
		first = p.additive()
		if p.acceptKw("IN") {
			f.Args = []Expr{first, p.expr()}
			p.expectOp(")")
			return p.callTail(f)
		}
	} else {
		first = p.expr()
	}
	f.Args = []Expr{first}
	switch {
	case (name == "SUBSTRING" || name == "SUBSTR") && p.acceptKw("FROM"):
		f.Args = append(f.Args, p.expr())
		if p.acceptKw("FOR") {
			f.Args = append(f.Args, p.expr())
		}
	case name == "OVERLAY" && p.acceptKw("PLACING"):
		f.Args = append(f.Args, p.expr())
		p.expectKw("FROM")
		f.Args = append(f.Args, p.expr())
		if p.acceptKw("FOR") {
			f.Args = append(f.Args, p.expr())
		}
	case (name == "CEIL" || name == "FLOOR") && p.acceptKw("TO"):
		u := p.tok()
		if u.kind != tokIdent {
			p.want("<time unit>")
			p.unexpected()
		}
		p.advance()
		f.Args = append(f.Args, &Literal{P: u.pos, Kind: LitString, Text: u.upper})
	default:
		for p.acceptOp(",") {
			f.Args = append(f.Args, p.expr())
		}
	}
	p.expectOp(")")
	return p.callTail(f)
}

// nameExpr parses a column reference or a (possibly qualified) function call.
func (p *parser) nameExpr() Expr {
	first := p.advance()
	parts := []string{first.text}
	upper := []string{first.upper}
	if first.kind == tokQuoted {
		upper[0] = toUpper(first.text)
	}
	// A dotted path followed by "(" is a qualified function name: cat.db.f(x).
	k := 0
	for isOpTok(p.peekN(k), ".") && (p.peekN(k+1).kind == tokIdent || p.peekN(k+1).kind == tokQuoted) {
		k += 2
	}
	if k > 0 && isOpTok(p.peekN(k), "(") {
		for j := 0; j < k; j += 2 {
			p.advance()
			t := p.advance()
			parts = append(parts, t.text)
			upper = append(upper, toUpper(t.text))
		}
	}
	if !p.peekOp("(") {
		return &ColumnRef{P: first.pos, Parts: parts}
	}
	f := &FuncCall{P: first.pos, Name: upper[len(upper)-1]}
	if len(parts) > 1 {
		f.Parts = parts
	}
	p.advance()
	if p.peekOp("*") {
		// f(*): COUNT(*) and the like. Anything but ")" after the star is a missing parenthesis
		// (COUNT(* FROM t): Encountered "FROM" ... Was expecting ")").
		p.advance()
		f.Star = true
		p.expectOp(")")
		return p.callTail(f)
	}
	if p.acceptKw("DISTINCT") {
		f.Distinct = true
	} else {
		p.acceptKw("ALL")
	}
	if !p.peekOp(")") {
		for p.err == nil {
			f.Args = append(f.Args, p.callArg())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	p.expectOp(")")
	return p.callTail(f)
}

// callArg parses one argument: an expression or TABLE name (for table-valued functions).
func (p *parser) callArg() Expr {
	t := p.tok()
	if t.isKw("TABLE") {
		p.advance()
		ta := &TableArg{P: t.pos, Name: p.objectName()}
		if p.peekKw("PARTITION") && p.peekN(1).isKw("BY") {
			p.advance()
			p.advance()
			ta.PartitionBy = p.partitionKeys()
		}
		return ta
	}
	if (t.kind == tokIdent || t.kind == tokQuoted) && isOpTok(p.peekN(1), "=>") {
		p.advance()
		p.advance()
		return &NamedArg{P: t.pos, Name: t.text, Value: p.callArg()}
	}
	return p.expr()
}

// partitionKeys parses the keys of TABLE t PARTITION BY k or PARTITION BY (k1, k2): one expression, or a
// parenthesized list (a comma after a single key ends the argument, as in Calcite).
func (p *parser) partitionKeys() []Expr {
	if !p.peekOp("(") {
		return []Expr{p.expr()}
	}
	p.advance()
	var keys []Expr
	for p.err == nil {
		keys = append(keys, p.expr())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return keys
}

// callTail parses FILTER (WHERE cond) and OVER (...) | OVER name after a call, and a null treatment
// (RESPECT NULLS | IGNORE NULLS) before them, as Calcite. Only LAG and LEAD take one (Calcite's
// allowsNullTreatment); RESPECT NULLS is what they do and is dropped, IGNORE NULLS is refused: Flink
// parses it but its LAG/LEAD runtime (LagAggFunction, LeadLagAggFunction) never reads it and respects NULLs,
// so accepting it would give rows that ignore what the query asks.
func (p *parser) callTail(f *FuncCall) Expr {
	if (p.peekKw("RESPECT") || p.peekKw("IGNORE")) && p.peekN(1).isKw("NULLS") {
		t := p.advance()
		p.advance()
		switch name := toUpper(f.Name); {
		case name != "LAG" && name != "LEAD":
			p.fail(t.pos, "Cannot specify IGNORE NULLS or RESPECT NULLS following '%s'", name)
		case t.isKw("IGNORE"):
			p.fail(t.pos, "%s ... IGNORE NULLS is not supported: Flink accepts it but its %s respects NULLs anyway, so Sluice refuses it rather than return rows that do not skip NULLs; remove IGNORE NULLS (RESPECT NULLS, the default, is what %s does)", name, name, name)
		}
	}
	if p.peekKw("WITHIN") {
		p.fail(p.pos(), "WITHIN GROUP is not supported")
		return f
	}
	if p.peekKw("FILTER") && isOpTok(p.peekN(1), "(") {
		p.advance()
		p.advance()
		p.expectKw("WHERE")
		f.Filter = p.expr()
		p.expectOp(")")
	}
	if p.acceptKw("OVER") {
		if p.isIdentTok() {
			t := p.advance()
			f.Over = &WindowSpec{P: t.pos, Ref: t.text}
		} else {
			f.Over = p.windowSpecParen()
		}
	}
	return f
}

func toUpper(s string) string { return strings.ToUpper(s) }
