package sql

// Statements other than CREATE/DROP/ALTER: the dispatch on the first keywords, SET, RESET, SHOW, EXPLAIN,
// INSERT, statement sets, STOP JOB. Queries are in query.go, expressions in expr.go.

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
