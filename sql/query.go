package sql

// query parses [WITH ...] body [ORDER BY ...] [LIMIT n | FETCH FIRST n ROWS ONLY] [OFFSET n [ROWS]].
func (p *parser) query() *Query {
	q := &Query{P: p.pos()}
	if !p.enter() {
		return q
	}
	defer p.leave()
	// A subquery's expressions are depth-checked on their own (checkDepth does not enter subqueries).
	nest := p.exprNest
	p.exprNest = 0
	defer func() { p.exprNest = nest }()
	if p.acceptKw("WITH") {
		for p.err == nil {
			id := p.ident()
			cte := &CTE{P: id.P, Name: id.Name}
			if p.peekOp("(") {
				cte.Columns = p.parenIdentList()
			}
			p.expectKw("AS")
			p.expectOp("(")
			cte.Query = p.query()
			p.expectOp(")")
			q.With = append(q.With, cte)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	q.Body = p.unionExpr()
	if p.acceptKw("ORDER") {
		p.expectKw("BY")
		q.OrderBy = p.orderItems()
	}
	for p.err == nil {
		switch {
		case q.Limit == nil && p.isKw("LIMIT"):
			p.advance()
			q.Limit = p.limitValue()
		case q.Offset == nil && p.isKw("OFFSET"):
			p.advance()
			q.Offset = p.limitValue()
			if !p.acceptKw("ROWS") {
				p.acceptKw("ROW")
			}
		case q.Limit == nil && p.isKw("FETCH"):
			p.advance()
			if !p.acceptKw("FIRST") {
				p.expectKw("NEXT")
			}
			q.Limit = p.limitValue()
			if !p.acceptKw("ROWS") {
				p.expectKw("ROW")
			}
			p.expectKw("ONLY")
		default:
			return q
		}
	}
	return q
}

// limitValue parses the count of LIMIT/OFFSET/FETCH: an integer or a parameter.
func (p *parser) limitValue() Expr {
	t := p.tok()
	switch t.kind {
	case tokInt:
		p.advance()
		return &Literal{P: t.pos, Kind: LitInteger, Text: t.text}
	case tokParam:
		return p.primary()
	}
	if p.isKw("ALL") {
		p.advance()
		return nil
	}
	p.want("<integer>")
	p.unexpected()
	return &Literal{P: t.pos}
}

// unionExpr parses UNION/EXCEPT (lower precedence) over INTERSECT.
func (p *parser) unionExpr() QueryBody {
	n := 0
	left := p.intersectExpr()
	for p.err == nil {
		t := p.tok()
		if !(p.isKw("UNION") || p.isKw("EXCEPT") || p.isKw("MINUS")) {
			return left
		}
		p.advance()
		op := t.upper
		if op == "MINUS" {
			op = "EXCEPT"
		}
		all := p.acceptKw("ALL")
		if !all {
			p.acceptKw("DISTINCT")
		}
		right := p.intersectExpr()
		left = &SetOp{P: left.Position(), Op: op, All: all, Left: left, Right: right}
		p.countSetOp(&n, left)
	}
	return left
}

// countSetOp bounds a chain of set operations (parsed by a loop, planned recursively) to maxExprDepth.
func (p *parser) countSetOp(n *int, q QueryBody) {
	if *n++; *n > maxExprDepth {
		p.fail(q.Position(), "Too many set operations in a row: more than %d UNION/EXCEPT/INTERSECT. Split the query, e.g. UNION ALL of views that each combine fewer queries", maxExprDepth)
	}
}

func (p *parser) intersectExpr() QueryBody {
	n := 0
	left := p.queryPrimary()
	for p.err == nil && p.isKw("INTERSECT") {
		p.advance()
		all := p.acceptKw("ALL")
		if !all {
			p.acceptKw("DISTINCT")
		}
		right := p.queryPrimary()
		left = &SetOp{P: left.Position(), Op: "INTERSECT", All: all, Left: left, Right: right}
		p.countSetOp(&n, left)
	}
	return left
}

func (p *parser) queryPrimary() QueryBody {
	t := p.tok()
	switch {
	case p.isKw("SELECT"):
		return p.selectBlock()
	case p.isKw("VALUES"):
		return p.values()
	case p.isOp("("):
		p.advance()
		q := p.query()
		q.P = t.pos
		p.expectOp(")")
		return q
	}
	p.unexpected()
	return &Select{P: t.pos}
}

func (p *parser) values() *ValuesBody {
	t := p.advance()
	v := &ValuesBody{P: t.pos}
	for p.err == nil {
		if p.peekOp("(") {
			p.advance()
			var row []Expr
			for p.err == nil {
				row = append(row, p.expr())
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
			v.Rows = append(v.Rows, row)
		} else {
			// VALUES 1, 2: one-column rows.
			v.Rows = append(v.Rows, []Expr{p.expr()})
		}
		if !p.acceptOp(",") {
			break
		}
	}
	return v
}

// hints parses /*+ OPTIONS('k'='v', ...) [other hints] */ and returns the OPTIONS pairs.
func (p *parser) hints() []Option {
	p.advance()
	var out []Option
	for p.err == nil && p.tok().kind != tokHintEnd {
		name := p.tok()
		if !p.isIdentTok() {
			p.unexpected()
			break
		}
		p.advance()
		if name.upper == "OPTIONS" {
			out = append(out, p.options()...)
		} else if name.upper == "STATE_TTL" {
			// accepting it would silently keep state the user meant to expire
			p.fail(name.pos, "The STATE_TTL hint is not supported yet: set one state TTL for the job with SET 'table.exec.state.ttl' = '<duration>'")
			break
		} else if p.peekOp("(") {
			// Other hints (e.g. join hints) are accepted and ignored.
			depth := 0
			for p.err == nil {
				t := p.advance()
				if t.kind == tokEOF || t.kind == tokHintEnd {
					p.fail(t.pos, "Unterminated hint arguments")
					break
				}
				if isOpTok(t, "(") {
					depth++
				} else if isOpTok(t, ")") {
					depth--
					if depth == 0 {
						break
					}
				}
			}
		}
		p.acceptOp(",")
	}
	if p.tok().kind != tokHintEnd {
		p.want(`"*/"`)
		p.unexpected()
	}
	p.advance()
	return out
}

func (p *parser) selectBlock() *Select {
	t := p.advance()
	s := &Select{P: t.pos}
	if p.tok().kind == tokHintStart {
		p.hints()
	}
	if !p.acceptKw("DISTINCT") {
		p.acceptKw("ALL")
	} else {
		s.Distinct = true
	}
	for p.err == nil {
		s.Items = append(s.Items, p.selectItem())
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("FROM") {
		s.From = p.fromList()
	}
	if p.acceptKw("WHERE") {
		s.Where = p.expr()
	}
	if p.acceptKw("GROUP") {
		p.expectKw("BY")
		for p.err == nil {
			s.GroupBy = append(s.GroupBy, p.groupItem())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("HAVING") {
		s.Having = p.expr()
	}
	if p.acceptKw("WINDOW") {
		for p.err == nil {
			id := p.ident()
			p.expectKw("AS")
			nw := &NamedWindow{P: id.P, Name: id.Name, Spec: p.windowSpecParen()}
			s.Windows = append(s.Windows, nw)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	return s
}

func (p *parser) selectItem() *SelectItem {
	t := p.tok()
	item := &SelectItem{P: t.pos}
	if p.isOp("*") {
		p.advance()
		item.Star = true
		return item
	}
	// t.* and a.b.*
	if t.kind == tokIdent || t.kind == tokQuoted {
		k := 0
		for {
			tk := p.peekN(k)
			if !(tk.kind == tokQuoted || tk.kind == tokIdent && !reserved[tk.upper]) || !isOpTok(p.peekN(k+1), ".") {
				break
			}
			if isOpTok(p.peekN(k+2), "*") {
				for j := 0; j <= k; j += 2 {
					item.Qualifier = append(item.Qualifier, p.peekN(j).text)
				}
				for j := 0; j < k+3; j++ {
					p.advance()
				}
				item.Star = true
				return item
			}
			k += 2
		}
	}
	p.want("<expression>")
	item.Expr = p.expr()
	item.Alias = p.alias()
	return item
}

// alias parses [AS] alias.
func (p *parser) alias() string {
	if p.acceptKw("AS") {
		t := p.tok()
		if t.kind == tokString {
			// Calcite accepts AS 'alias' in some places; keep it readable.
			p.advance()
			return t.text
		}
		return p.ident().Name
	}
	if p.isIdentTok() {
		return p.advance().text
	}
	return ""
}

func (p *parser) groupItem() Expr {
	t := p.tok()
	switch {
	case p.isKw("GROUPING") && p.peekN(1).isKw("SETS"):
		p.advance()
		p.advance()
		g := &GroupingSets{P: t.pos, Kind: "GROUPING SETS"}
		p.expectOp("(")
		for p.err == nil {
			g.Sets = append(g.Sets, p.groupingSet())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		return g
	case (p.isKw("ROLLUP") || p.isKw("CUBE")) && isOpTok(p.peekN(1), "("):
		p.advance()
		g := &GroupingSets{P: t.pos, Kind: t.upper}
		p.expectOp("(")
		for p.err == nil {
			g.Sets = append(g.Sets, p.groupingSet())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		return g
	case p.isOp("(") && isOpTok(p.peekN(1), ")"):
		p.advance()
		p.advance()
		return &GroupingSets{P: t.pos, Kind: "GROUPING SETS", Sets: [][]Expr{{}}}
	}
	return p.expr()
}

// groupingSet parses one element of GROUPING SETS/ROLLUP/CUBE: (a, b), (), or a single expression.
func (p *parser) groupingSet() []Expr {
	if p.peekOp("(") {
		save := p.i
		p.advance()
		if p.acceptOp(")") {
			return []Expr{}
		}
		var set []Expr
		for p.err == nil {
			set = append(set, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
		if p.err == nil && p.peekOp(")") {
			p.advance()
			if len(set) > 1 {
				return set
			}
			// (a) alone: a set of one expression, unless it continues as an expression like (a) + 1.
			if p.peekOp(",") || p.peekOp(")") {
				return set
			}
		}
		if p.err != nil {
			return set
		}
		p.i = save
	}
	return []Expr{p.expr()}
}

func (p *parser) orderItems() []*OrderItem {
	var out []*OrderItem
	for p.err == nil {
		o := &OrderItem{P: p.pos(), Expr: p.expr()}
		if p.acceptKw("DESC") {
			o.Desc = true
		} else {
			p.acceptKw("ASC")
		}
		if p.acceptKw("NULLS") {
			first := p.acceptKw("FIRST")
			if !first {
				p.expectKw("LAST")
			}
			o.NullsFirst = &first
		}
		out = append(out, o)
		if !p.acceptOp(",") {
			break
		}
	}
	return out
}

// ---- FROM ----

// fromList parses table references separated by commas (comma joins bind looser than JOIN).
func (p *parser) fromList() TableExpr {
	left := p.joinedTable()
	for p.err == nil && p.acceptOp(",") {
		right := p.joinedTable()
		left = &Join{P: left.Position(), Kind: "CROSS", Left: left, Right: right}
	}
	return left
}

func (p *parser) joinedTable() TableExpr {
	if !p.enter() {
		return &TableRef{P: p.pos()}
	}
	defer p.leave()
	left := p.tablePrimary()
	for p.err == nil {
		kind := ""
		t := p.tok()
		switch {
		case p.isKw("JOIN"):
			kind = "INNER"
		case p.isKw("INNER"):
			p.advance()
			kind = "INNER"
		case p.isKw("LEFT"), p.isKw("RIGHT"), p.isKw("FULL"):
			p.advance()
			kind = t.upper
			p.acceptKw("OUTER")
		case p.isKw("CROSS"):
			p.advance()
			kind = "CROSS"
		case p.isKw("NATURAL"):
			p.fail(t.pos, "NATURAL JOIN is not supported; use JOIN ... USING (columns)")
			return left
		default:
			return left
		}
		p.expectKw("JOIN")
		right := p.tablePrimary()
		j := &Join{P: left.Position(), Kind: kind, Left: left, Right: right}
		if kind != "CROSS" {
			switch {
			case p.isKw("ON"):
				p.advance()
				j.On = p.expr()
			case p.isKw("USING"):
				p.advance()
				j.Using = p.parenIdentList()
			default:
				p.unexpected()
			}
		}
		left = j
	}
	return left
}

// tableAlias parses [AS] alias [(c1, c2)].
func (p *parser) tableAlias() (string, []Ident) {
	name := ""
	if p.acceptKw("AS") {
		name = p.ident().Name
	} else if p.isIdentTok() {
		name = p.advance().text
	} else {
		return "", nil
	}
	var cols []Ident
	if p.peekOp("(") {
		cols = p.parenIdentList()
	}
	return name, cols
}

func (p *parser) tablePrimary() TableExpr {
	t := p.tok()
	switch {
	case p.isKw("LATERAL"):
		p.advance()
		if p.isKw("TABLE") {
			tf := p.tableFunc()
			tf.P, tf.Lateral = t.pos, true
			return tf
		}
		if p.isOp("(") {
			sq := p.subqueryTable()
			sq.P, sq.Lateral = t.pos, true
			return sq
		}
		p.unexpected()
	case p.isKw("TABLE"):
		return p.tableFunc()
	case p.isKw("UNNEST"):
		p.advance()
		call := &FuncCall{P: t.pos, Name: "UNNEST"}
		p.expectOp("(")
		for p.err == nil {
			call.Args = append(call.Args, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		if p.peekKw("WITH") && p.peekN(1).isKw("ORDINALITY") {
			p.fail(p.pos(), "UNNEST ... WITH ORDINALITY is not supported")
		}
		tf := &TableFunc{P: t.pos, Call: call}
		tf.Alias, tf.ColAliases = p.tableAlias()
		return tf
	case p.isOp("("):
		n := p.peekN(1)
		if n.isKw("SELECT") || n.isKw("WITH") || n.isKw("VALUES") || isOpTok(n, "(") {
			return p.maybeMatchRecognize(p.subqueryTable())
		}
		p.advance()
		inner := p.fromList()
		p.expectOp(")")
		return inner
	case p.isIdentTok():
		ref := &TableRef{P: t.pos, Name: p.objectName()}
		if p.tok().kind == tokHintStart {
			ref.Hints = p.hints()
		}
		if p.isKw("FOR") {
			p.advance()
			p.expectKw("SYSTEM_TIME", "AS", "OF")
			ref.SystemTimeAt = p.checkedAdditive()
		}
		ref.Alias, ref.ColAliases = p.tableAlias()
		return p.maybeMatchRecognize(ref)
	}
	p.unexpected()
	return &TableRef{P: t.pos}
}

func (p *parser) subqueryTable() *Subquery {
	t := p.advance()
	sq := &Subquery{P: t.pos, Query: p.query()}
	p.expectOp(")")
	sq.Alias, sq.ColAliases = p.tableAlias()
	return sq
}

// tableFunc parses TABLE(f(args)) [AS alias (cols)].
func (p *parser) tableFunc() *TableFunc {
	t := p.advance()
	tf := &TableFunc{P: t.pos}
	p.expectOp("(")
	e := p.expr()
	call, ok := e.(*FuncCall)
	if !ok {
		if p.err == nil {
			p.fail(e.Position(), "TABLE(...) expects a table function call, e.g. TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTES))")
		}
		call = &FuncCall{P: e.Position()}
	}
	tf.Call = call
	p.expectOp(")")
	tf.Alias, tf.ColAliases = p.tableAlias()
	return tf
}

// windowSpecParen parses ( [ref] [PARTITION BY ...] [ORDER BY ...] [frame] ).
func (p *parser) windowSpecParen() *WindowSpec {
	t := p.tok()
	w := &WindowSpec{P: t.pos}
	p.expectOp("(")
	if p.isIdentTok() && !p.peekKw("PARTITION") && !p.peekKw("ORDER") && !p.peekKw("ROWS") && !p.peekKw("RANGE") {
		w.Ref = p.advance().text
	}
	if p.acceptKw("PARTITION") {
		p.expectKw("BY")
		for p.err == nil {
			w.PartitionBy = append(w.PartitionBy, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("ORDER") {
		p.expectKw("BY")
		w.OrderBy = p.orderItems()
	}
	if p.isKw("ROWS") || p.isKw("RANGE") {
		unit := p.advance().upper
		if p.acceptKw("BETWEEN") {
			lo, loExpr := p.frameBound()
			p.expectKw("AND")
			hi, hiExpr := p.frameBound()
			w.Frame = unit + " BETWEEN " + lo + " AND " + hi
			w.FrameStart, w.FrameEnd = loExpr, hiExpr
		} else {
			lo, loExpr := p.frameBound()
			w.Frame = unit + " " + lo
			w.FrameStart = loExpr
		}
	}
	p.expectOp(")")
	return w
}

// frameBound parses UNBOUNDED PRECEDING|FOLLOWING, CURRENT ROW or expr PRECEDING|FOLLOWING.
func (p *parser) frameBound() (string, Expr) {
	switch {
	case p.acceptKw("UNBOUNDED"):
		if p.acceptKw("FOLLOWING") {
			return "UNBOUNDED FOLLOWING", nil
		}
		p.expectKw("PRECEDING")
		return "UNBOUNDED PRECEDING", nil
	case p.acceptKw("CURRENT"):
		p.expectKw("ROW")
		return "CURRENT ROW", nil
	}
	e := p.checkedAdditive()
	if p.acceptKw("FOLLOWING") {
		return FormatExpr(e) + " FOLLOWING", e
	}
	p.expectKw("PRECEDING")
	return FormatExpr(e) + " PRECEDING", e
}
