package sql

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// FormatExpr prints an expression as canonical Flink-like SQL (for EXPLAIN, DESCRIBE and error messages).
// Parsing the result gives the same tree (positions aside).
func FormatExpr(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, 0)
	return b.String()
}

// FormatQuery prints a query as SQL text (best effort; used rarely).
func FormatQuery(q *Query) string {
	var b strings.Builder
	writeQuery(&b, q)
	return b.String()
}

// Precedence levels for printing; a child with a lower level than its context is parenthesized.
const (
	precOr = iota + 1
	precAnd
	precNot
	precCmp
	precAdd
	precMul
	precUnary
	precPrimary
)

func exprPrec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		switch e.Op {
		case "OR":
			return precOr
		case "AND":
			return precAnd
		case "+", "-":
			return precAdd
		case "*", "/", "%", "||":
			return precMul
		}
		return precCmp
	case *Unary:
		if e.Op == "NOT" {
			return precNot
		}
		return precUnary
	case *Between, *In, *Like, *IsTest:
		return precCmp
	}
	return precPrimary
}

func writeExpr(b *strings.Builder, e Expr, ctx int) {
	if e == nil {
		b.WriteString("NULL")
		return
	}
	if exprPrec(e) < ctx {
		b.WriteByte('(')
		writeExpr(b, e, 0)
		b.WriteByte(')')
		return
	}
	switch e := e.(type) {
	case *Literal:
		writeLiteral(b, e)
	case *IntervalLit:
		b.WriteString("INTERVAL ")
		if e.Negative {
			b.WriteByte('-')
		}
		writeString(b, e.Value)
		b.WriteByte(' ')
		b.WriteString(e.Unit)
		if e.Prec > 0 {
			b.WriteString("(" + strconv.Itoa(e.Prec) + ")")
		}
		if e.ToUnit != "" {
			b.WriteString(" TO " + e.ToUnit)
		}
	case *ColumnRef:
		b.WriteString(JoinIdents(e.Parts))
	case *Param:
		if e.Dollar {
			b.WriteString("$" + strconv.Itoa(e.Index))
		} else {
			b.WriteString("?")
		}
	case *Unary:
		if e.Op == "NOT" {
			b.WriteString("NOT ")
			writeExpr(b, e.X, precNot)
			return
		}
		b.WriteString(e.Op)
		if u, ok := e.X.(*Unary); ok && u.Op != "NOT" {
			b.WriteByte(' ') // - -x, not --x (a comment)
		}
		writeExpr(b, e.X, precUnary)
	case *Binary:
		p := exprPrec(e)
		writeExpr(b, e.L, p)
		b.WriteString(" " + e.Op + " ")
		writeExpr(b, e.R, p+1) // left-associative
	case *FuncCall:
		writeCall(b, e)
	case *Case:
		b.WriteString("CASE")
		if e.Operand != nil {
			b.WriteByte(' ')
			writeExpr(b, e.Operand, 0)
		}
		for _, w := range e.Whens {
			b.WriteString(" WHEN ")
			writeExpr(b, w.Cond, 0)
			b.WriteString(" THEN ")
			writeExpr(b, w.Result, 0)
		}
		if e.Else != nil {
			b.WriteString(" ELSE ")
			writeExpr(b, e.Else, 0)
		}
		b.WriteString(" END")
	case *Cast:
		if e.Try {
			b.WriteString("TRY_CAST(")
		} else {
			b.WriteString("CAST(")
		}
		writeExpr(b, e.X, 0)
		b.WriteString(" AS " + e.Type.String() + ")")
	case *Between:
		writeExpr(b, e.X, precCmp+1)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		if e.Symmetric {
			b.WriteString("SYMMETRIC ")
		}
		writeExpr(b, e.Lo, precAdd)
		b.WriteString(" AND ")
		writeExpr(b, e.Hi, precAdd)
	case *In:
		writeExpr(b, e.X, precCmp+1)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		if e.Query != nil {
			writeQuery(b, e.Query)
		} else {
			writeExprList(b, e.List)
		}
		b.WriteByte(')')
	case *Like:
		writeExpr(b, e.X, precCmp+1)
		if e.Not {
			b.WriteString(" NOT")
		}
		if e.Similar {
			b.WriteString(" SIMILAR TO ")
		} else {
			b.WriteString(" LIKE ")
		}
		writeExpr(b, e.Pattern, precAdd)
		if e.Escape != nil {
			b.WriteString(" ESCAPE ")
			writeExpr(b, e.Escape, precAdd)
		}
	case *IsTest:
		writeExpr(b, e.X, precCmp)
		b.WriteString(" IS ")
		if e.Not {
			b.WriteString("NOT ")
		}
		b.WriteString(e.What)
	case *Exists:
		b.WriteString("EXISTS (")
		writeQuery(b, e.Query)
		b.WriteByte(')')
	case *SubqueryExpr:
		b.WriteByte('(')
		writeQuery(b, e.Query)
		b.WriteByte(')')
	case *Constructor:
		switch e.Kind {
		case "ROW":
			b.WriteString("ROW(")
			writeExprList(b, e.Elems)
			b.WriteByte(')')
		default:
			b.WriteString(e.Kind + "[")
			writeExprList(b, e.Elems)
			b.WriteByte(']')
		}
	case *Index:
		writeExpr(b, e.X, precPrimary)
		b.WriteByte('[')
		writeExpr(b, e.Index, 0)
		b.WriteByte(']')
	case *FieldAccess:
		writeExpr(b, e.X, precPrimary)
		b.WriteString("." + QuoteIdentIfNeeded(e.Field))
	case *TableArg:
		b.WriteString("TABLE " + e.Name.String())
		if len(e.PartitionBy) > 0 {
			b.WriteString(" PARTITION BY (")
			writeExprList(b, e.PartitionBy)
			b.WriteByte(')')
		}
	case *NamedArg:
		b.WriteString(QuoteIdentIfNeeded(e.Name) + " => ")
		writeExpr(b, e.Value, 0)
	case *Paren:
		b.WriteByte('(')
		writeExpr(b, e.X, 0)
		b.WriteByte(')')
	case *GroupingSets:
		if e.Kind == "GROUPING SETS" && len(e.Sets) == 1 && len(e.Sets[0]) == 0 {
			b.WriteString("()")
			return
		}
		b.WriteString(e.Kind)
		if e.Kind == "GROUPING SETS" {
			b.WriteByte(' ')
		}
		b.WriteByte('(')
		for i, s := range e.Sets {
			if i > 0 {
				b.WriteString(", ")
			}
			if len(s) == 1 {
				writeExpr(b, s[0], 0)
				continue
			}
			b.WriteByte('(')
			writeExprList(b, s)
			b.WriteByte(')')
		}
		b.WriteByte(')')
	default:
		b.WriteString("?unknown?")
	}
}

func writeExprList(b *strings.Builder, es []Expr) {
	for i, x := range es {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, x, 0)
	}
}

func writeString(b *strings.Builder, s string) {
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", "''"))
	b.WriteByte('\'')
}

func writeLiteral(b *strings.Builder, e *Literal) {
	switch e.Kind {
	case LitNull:
		if e.Text == "UNKNOWN" {
			b.WriteString("UNKNOWN")
		} else {
			b.WriteString("NULL")
		}
	case LitBool:
		if e.Bool {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case LitInteger, LitDecimal, LitFloat:
		b.WriteString(e.Text)
	case LitString:
		writeString(b, e.Text)
	case LitBinary:
		b.WriteString("X'" + strings.ToUpper(hex.EncodeToString([]byte(e.Text))) + "'")
	case LitDate:
		b.WriteString("DATE ")
		writeString(b, e.Text)
	case LitTime:
		b.WriteString("TIME ")
		writeString(b, e.Text)
	case LitTimestamp:
		b.WriteString("TIMESTAMP ")
		writeString(b, e.Text)
	case LitTimestampLTZ:
		b.WriteString("TIMESTAMP_LTZ ")
		writeString(b, e.Text)
	}
}

// unitArg returns the unit held by a string literal argument (EXTRACT, TIMESTAMPADD, ...), or "".
func unitArg(e Expr) string {
	if l, ok := e.(*Literal); ok && l.Kind == LitString && l.Text != "" && QuoteIdentIfNeeded(l.Text) == l.Text {
		return l.Text
	}
	return ""
}

func writeCall(b *strings.Builder, f *FuncCall) {
	name := f.Name
	if len(f.Parts) > 0 {
		name = JoinIdents(f.Parts)
	} else if QuoteIdentIfNeeded(name) != name {
		name = QuoteIdentIfNeeded(name)
	}
	if niladic[f.Name] && len(f.Args) == 0 && !f.Star && len(f.Parts) == 0 {
		b.WriteString(name)
		writeCallTail(b, f)
		return
	}
	b.WriteString(name + "(")
	args := f.Args
	switch {
	case f.Star:
		b.WriteByte('*')
		args = nil
	case f.Name == "EXTRACT" && len(args) == 2 && unitArg(args[0]) != "":
		b.WriteString(unitArg(args[0]) + " FROM ")
		writeExpr(b, args[1], 0)
		args = nil
	case (f.Name == "TIMESTAMPADD" || f.Name == "TIMESTAMPDIFF") && len(args) == 3 && unitArg(args[0]) != "":
		b.WriteString(unitArg(args[0]) + ", ")
		args = args[1:]
		writeExprList(b, args)
		args = nil
	case (f.Name == "CEIL" || f.Name == "FLOOR") && len(args) == 2 && unitArg(args[1]) != "":
		writeExpr(b, args[0], 0)
		b.WriteString(" TO " + unitArg(args[1]))
		args = nil
	case f.Name == "TRIM" && len(args) == 3 && isTrimMode(args[0]):
		b.WriteString(args[0].(*Literal).Text + " ")
		if l, ok := args[1].(*Literal); !ok || l.Kind != LitNull || l.Text != "" {
			writeExpr(b, args[1], 0)
			b.WriteByte(' ')
		}
		b.WriteString("FROM ")
		writeExpr(b, args[2], 0)
		args = nil
	case f.Name == "POSITION" && len(args) == 2:
		writeExpr(b, args[0], precAdd)
		b.WriteString(" IN ")
		writeExpr(b, args[1], 0)
		args = nil
	case f.Name == "OVERLAY" && (len(args) == 3 || len(args) == 4):
		writeExpr(b, args[0], 0)
		b.WriteString(" PLACING ")
		writeExpr(b, args[1], 0)
		b.WriteString(" FROM ")
		writeExpr(b, args[2], 0)
		if len(args) == 4 {
			b.WriteString(" FOR ")
			writeExpr(b, args[3], 0)
		}
		args = nil
	}
	if f.Distinct {
		b.WriteString("DISTINCT ")
	}
	writeExprList(b, args)
	b.WriteByte(')')
	writeCallTail(b, f)
}

func isTrimMode(e Expr) bool {
	l, ok := e.(*Literal)
	return ok && l.Kind == LitString && (l.Text == "BOTH" || l.Text == "LEADING" || l.Text == "TRAILING")
}

func writeCallTail(b *strings.Builder, f *FuncCall) {
	if f.Filter != nil {
		b.WriteString(" FILTER (WHERE ")
		writeExpr(b, f.Filter, 0)
		b.WriteByte(')')
	}
	if f.Over != nil {
		b.WriteString(" OVER ")
		if f.Over.Ref != "" && len(f.Over.PartitionBy) == 0 && len(f.Over.OrderBy) == 0 && f.Over.Frame == "" {
			b.WriteString(QuoteIdentIfNeeded(f.Over.Ref))
			return
		}
		writeWindowSpec(b, f.Over)
	}
}

func writeWindowSpec(b *strings.Builder, w *WindowSpec) {
	b.WriteByte('(')
	var parts []string
	if w.Ref != "" {
		parts = append(parts, QuoteIdentIfNeeded(w.Ref))
	}
	if len(w.PartitionBy) > 0 {
		var s strings.Builder
		s.WriteString("PARTITION BY ")
		writeExprList(&s, w.PartitionBy)
		parts = append(parts, s.String())
	}
	if len(w.OrderBy) > 0 {
		var s strings.Builder
		s.WriteString("ORDER BY ")
		writeOrder(&s, w.OrderBy)
		parts = append(parts, s.String())
	}
	if w.Frame != "" {
		parts = append(parts, w.Frame)
	}
	b.WriteString(strings.Join(parts, " "))
	b.WriteByte(')')
}

func writeOrder(b *strings.Builder, items []*OrderItem) {
	for i, o := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeExpr(b, o.Expr, 0)
		if o.Desc {
			b.WriteString(" DESC")
		}
		if o.NullsFirst != nil {
			if *o.NullsFirst {
				b.WriteString(" NULLS FIRST")
			} else {
				b.WriteString(" NULLS LAST")
			}
		}
	}
}

// ---- queries ----

func writeQuery(b *strings.Builder, q *Query) {
	if q == nil {
		return
	}
	if len(q.With) > 0 {
		b.WriteString("WITH ")
		for i, c := range q.With {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdentIfNeeded(c.Name))
			writeIdentList(b, c.Columns)
			b.WriteString(" AS (")
			writeQuery(b, c.Query)
			b.WriteByte(')')
		}
		b.WriteByte(' ')
	}
	writeBody(b, q.Body)
	if len(q.OrderBy) > 0 {
		b.WriteString(" ORDER BY ")
		writeOrder(b, q.OrderBy)
	}
	if q.Limit != nil {
		b.WriteString(" LIMIT ")
		writeExpr(b, q.Limit, 0)
	}
	if q.Offset != nil {
		b.WriteString(" OFFSET ")
		writeExpr(b, q.Offset, 0)
	}
}

func writeIdentList(b *strings.Builder, ids []Ident) {
	if len(ids) == 0 {
		return
	}
	b.WriteString(" (")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdentIfNeeded(id.Name))
	}
	b.WriteByte(')')
}

func writeBody(b *strings.Builder, body QueryBody) {
	switch s := body.(type) {
	case *Select:
		b.WriteString("SELECT ")
		if s.Distinct {
			b.WriteString("DISTINCT ")
		}
		for i, it := range s.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			switch {
			case it.Star && len(it.Qualifier) > 0:
				b.WriteString(JoinIdents(it.Qualifier) + ".*")
			case it.Star:
				b.WriteByte('*')
			default:
				writeExpr(b, it.Expr, 0)
				if it.Alias != "" {
					b.WriteString(" AS " + QuoteIdentIfNeeded(it.Alias))
				}
			}
		}
		if s.From != nil {
			b.WriteString(" FROM ")
			writeTable(b, s.From)
		}
		if s.Where != nil {
			b.WriteString(" WHERE ")
			writeExpr(b, s.Where, 0)
		}
		if len(s.GroupBy) > 0 {
			b.WriteString(" GROUP BY ")
			writeExprList(b, s.GroupBy)
		}
		if s.Having != nil {
			b.WriteString(" HAVING ")
			writeExpr(b, s.Having, 0)
		}
		for i, w := range s.Windows {
			if i == 0 {
				b.WriteString(" WINDOW ")
			} else {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdentIfNeeded(w.Name) + " AS ")
			writeWindowSpec(b, w.Spec)
		}
	case *SetOp:
		writeBody(b, s.Left)
		b.WriteString(" " + s.Op + " ")
		if s.All {
			b.WriteString("ALL ")
		}
		if _, ok := s.Right.(*SetOp); ok {
			b.WriteByte('(')
			writeBody(b, s.Right)
			b.WriteByte(')')
		} else {
			writeBody(b, s.Right)
		}
	case *ValuesBody:
		b.WriteString("VALUES ")
		for i, row := range s.Rows {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			writeExprList(b, row)
			b.WriteByte(')')
		}
	case *Query:
		b.WriteByte('(')
		writeQuery(b, s)
		b.WriteByte(')')
	}
}

func writeAlias(b *strings.Builder, alias string, cols []Ident) {
	if alias == "" {
		return
	}
	b.WriteString(" AS " + QuoteIdentIfNeeded(alias))
	writeIdentList(b, cols)
}

func writeTable(b *strings.Builder, t TableExpr) {
	switch t := t.(type) {
	case *TableRef:
		b.WriteString(t.Name.String())
		if len(t.Hints) > 0 {
			b.WriteString(" /*+ OPTIONS(")
			for i, o := range t.Hints {
				if i > 0 {
					b.WriteString(", ")
				}
				writeString(b, o.Key)
				b.WriteString("=")
				writeString(b, o.Value)
			}
			b.WriteString(") */")
		}
		if t.SystemTimeAt != nil {
			b.WriteString(" FOR SYSTEM_TIME AS OF ")
			writeExpr(b, t.SystemTimeAt, precAdd)
		}
		writeAlias(b, t.Alias, t.ColAliases)
	case *Subquery:
		if t.Lateral {
			b.WriteString("LATERAL ")
		}
		b.WriteByte('(')
		writeQuery(b, t.Query)
		b.WriteByte(')')
		writeAlias(b, t.Alias, t.ColAliases)
	case *TableFunc:
		if t.Call != nil && t.Call.Name == "UNNEST" {
			writeCall(b, t.Call)
		} else {
			if t.Lateral {
				b.WriteString("LATERAL ")
			}
			b.WriteString("TABLE(")
			if t.Call != nil {
				writeCall(b, t.Call)
			}
			b.WriteByte(')')
		}
		writeAlias(b, t.Alias, t.ColAliases)
	case *MatchRecognize:
		writeMatchRecognize(b, t)
	case *Join:
		writeTable(b, t.Left)
		if t.Kind == "CROSS" && t.On == nil && len(t.Using) == 0 {
			if _, ok := t.Right.(*Join); ok {
				b.WriteString(" CROSS JOIN (")
				writeTable(b, t.Right)
				b.WriteByte(')')
				return
			}
			b.WriteString(" CROSS JOIN ")
			writeTable(b, t.Right)
			return
		}
		b.WriteString(" " + t.Kind + " JOIN ")
		if _, ok := t.Right.(*Join); ok {
			b.WriteByte('(')
			writeTable(b, t.Right)
			b.WriteByte(')')
		} else {
			writeTable(b, t.Right)
		}
		if t.On != nil {
			b.WriteString(" ON ")
			writeExpr(b, t.On, 0)
		}
		if len(t.Using) > 0 {
			b.WriteString(" USING")
			writeIdentList(b, t.Using)
		}
	}
}
