package sql

// DDL statements: CREATE TABLE/VIEW (columns, constraints, watermarks, options), DROP, ALTER TABLE.

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
