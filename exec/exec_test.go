package exec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Test expressions (the expr package's own are built by the planner).
type colExpr struct {
	i int
	t types.Type
}

func (c colExpr) Type() types.Type                            { return c.t }
func (c colExpr) Eval(row []types.Value) (types.Value, error) { return row[c.i], nil }
func (c colExpr) String() string                              { return "$" + strconv.Itoa(c.i) }

// gtExpr is $col > c on integers (NULL when the column is NULL).
type gtExpr struct {
	col int
	c   int64
}

func (g gtExpr) Type() types.Type { return types.BooleanType() }
func (g gtExpr) Eval(row []types.Value) (types.Value, error) {
	if row[g.col].T == types.TagNull {
		return types.NullValue, nil
	}
	return types.BoolValue(row[g.col].I > g.c), nil
}
func (g gtExpr) String() string { return fmt.Sprintf(">($%d, %d)", g.col, g.c) }

// minusExpr is $col - d milliseconds on a TIMESTAMP.
type minusExpr struct {
	col int
	d   int64
}

func (m minusExpr) Type() types.Type { return types.TimestampType(3) }
func (m minusExpr) Eval(row []types.Value) (types.Value, error) {
	v := row[m.col]
	if v.T == types.TagNull {
		return v, nil
	}
	return types.TimestampValue(v.I-m.d, 0), nil
}
func (m minusExpr) String() string { return fmt.Sprintf("-($%d, %d)", m.col, m.d) }

// divExpr is 100 / $col, failing on zero.
type divExpr struct{ col int }

func (e divExpr) Type() types.Type { return types.BigIntType() }
func (e divExpr) Eval(row []types.Value) (types.Value, error) {
	v := row[e.col]
	if v.T == types.TagNull {
		return v, nil
	}
	if v.I == 0 {
		return types.NullValue, fmt.Errorf("division by zero: 100 / %d", v.I)
	}
	return types.IntValue(100 / v.I), nil
}
func (e divExpr) String() string { return fmt.Sprintf("/(100, $%d)", e.col) }

var _ expr.Expr = colExpr{}

// parseTestExpr parses $1, $1>2, $1-5 (timestamp minus millis), 100/$1.
func parseTestExpr(t testing.TB, s string, ts []types.Type) expr.Expr {
	s = strings.ReplaceAll(s, " ", "")
	col := func(x string) int {
		i, err := strconv.Atoi(strings.TrimPrefix(x, "$"))
		if err != nil {
			t.Fatalf("bad column %q", x)
		}
		return i
	}
	num := func(x string) int64 {
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("bad number %q", x)
		}
		return i
	}
	switch {
	case strings.HasPrefix(s, "100/"):
		return divExpr{col: col(s[4:])}
	case strings.Contains(s, ">"):
		a, b, _ := strings.Cut(s, ">")
		return gtExpr{col: col(a), c: num(b)}
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		return minusExpr{col: col(a), d: num(b)}
	}
	c := col(s)
	return colExpr{i: c, t: ts[c]}
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if strings.Contains(path, "topn-savepoint") || strings.Contains(path, "rank-savepoint") || strings.Contains(path, "join-savepoint") {
			return // TestTopNSavepointBefore, TestRankInsertOnlySavepointBefore, TestJoinBucketSnapshotRestoresOld read these
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runCommand(t, d)
		})
	})
}

func runCommand(t *testing.T, d *datadriven.TestData) string {
	ts := argTypes(t, d)
	rec := &recorder{}
	onebatch := d.HasArg("onebatch")
	result := func(err error) string {
		s := rec.b.String()
		if err != nil {
			s += "error: " + err.Error() + "\n"
		}
		return s
	}
	switch d.Cmd {
	case "aggtype":
		var fn string
		d.ScanArgs(t, "fn", &fn)
		rt, err := AggResultType(fn, d.HasArg("distinct"), ts)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return rt.String() + "\n"

	case "groupagg":
		cfg := GroupAggConfig{
			Keys:             argInts(t, d, "keys"),
			InTypes:          ts,
			Aggs:             argAggs(t, d, ts),
			Batch:            d.HasArg("batch"),
			EmitUpdateBefore: !d.HasArg("noub"),
			InsertOnly:       d.HasArg("insertonly"),
		}
		op, err := NewGroupAgg(cfg, rec)
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return result(feed(t, op, d.Input, ts, onebatch, true))

	case "sort":
		dir := t.TempDir()
		op := NewSort(argSortKeys(t, d), argInt64(t, d, "limit", -1), argInt64(t, d, "offset", 0),
			argInt64(t, d, "budget", 0), dir, rec)
		spills := 0
		op.(*sortOp).onSpill = func(string) { spills++ }
		err := feed(t, op, d.Input, ts, onebatch, true)
		s := result(err)
		if spills > 0 {
			s += fmt.Sprintf("spilled runs: %d\n", spills)
		}
		return s

	case "topn":
		op := NewTopN(argSortKeys(t, d), argInt64(t, d, "limit", -1), argInt64(t, d, "offset", 0), rec)
		return result(feed(t, op, d.Input, ts, onebatch, true))

	case "join":
		// types=(left types) rtypes=(right types) lkeys=(..) rkeys=(..) type=inner|left|right|full [batch]
		// Input lines start with L or R; "END L" / "END R" end an input (both end at the end otherwise).
		var rts []types.Type
		if a, ok := d.Arg("rtypes"); ok {
			for _, v := range a.Vals {
				rts = append(rts, parseType(t, v))
			}
		}
		jt := map[string]JoinType{"inner": InnerJoin, "left": LeftJoin, "right": RightJoin, "full": FullJoin}
		var kind string
		d.ScanArgs(t, "type", &kind)
		cfg := JoinConfig{Type: jt[kind], LeftKeys: argInts(t, d, "lkeys"), RightKeys: argInts(t, d, "rkeys"),
			LeftTypes: ts, RightTypes: rts, Batch: d.HasArg("batch")}
		l, r := NewJoin(cfg, rec)
		ended := [2]bool{}
		var err error
		for _, line := range strings.Split(d.Input, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || err != nil {
				continue
			}
			side, rest, _ := strings.Cut(line, " ")
			if side == "END" {
				if rest == "L" {
					err, ended[0] = l.End(), true
				} else {
					err, ended[1] = r.End(), true
				}
				continue
			}
			if side == "L" {
				err = l.Push(&changelog.Batch{Rows: []changelog.Row{parseRow(t, rest, ts)}})
			} else {
				err = r.Push(&changelog.Batch{Rows: []changelog.Row{parseRow(t, rest, rts)}})
			}
		}
		if err == nil && !ended[0] {
			err = l.End()
		}
		if err == nil && !ended[1] {
			err = r.End()
		}
		return result(err)

	case "rank":
		// types=(..) part=(..) order=(..) as for sort, limit=N, rownum, batch
		op := NewRank(RankConfig{Partition: argInts(t, d, "part"), Order: argSortKeys(t, d), Limit: argInt64(t, d, "limit", -1),
			RowNumber: d.HasArg("rownum"), Types: ts, Batch: d.HasArg("batch")}, rec)
		return result(feed(t, op, d.Input, ts, onebatch, true))

	case "normalize":
		op := NewChangelogNormalize(argInts(t, d, "keys"), ts, d.HasArg("batch"), rec)
		return result(feed(t, op, d.Input, ts, onebatch, true))

	case "limit":
		op := NewLimit(argInt64(t, d, "limit", -1), argInt64(t, d, "offset", 0), rec)
		return result(feed(t, op, d.Input, ts, onebatch, true))

	case "calc":
		var projects []expr.Expr
		if a, ok := d.Arg("project"); ok {
			for _, v := range a.Vals {
				projects = append(projects, parseTestExpr(t, v, ts))
			}
		}
		var filter expr.Expr
		if a, ok := d.Arg("filter"); ok {
			filter = parseTestExpr(t, a.SingleVal(t), ts)
		}
		return result(feed(t, NewCalc(projects, filter, rec), d.Input, ts, onebatch, true))

	case "watermark":
		var e string
		d.ScanArgs(t, "expr", &e)
		op := NewWatermarkAssigner(parseTestExpr(t, e, ts), rec)
		return result(feed(t, op, d.Input, ts, onebatch, true))

	case "union":
		var n int
		d.ScanArgs(t, "n", &n)
		ins := NewUnion(n, rec)
		var err error
		for _, line := range strings.Split(d.Input, "\n") {
			idx, rest, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			i, _ := strconv.Atoi(strings.TrimSpace(idx))
			rest = strings.TrimSpace(rest)
			fmt.Fprintf(&rec.b, "> %d: %s\n", i, rest)
			if rest == "END" {
				err = ins[i].End()
			} else {
				err = feed(t, ins[i], rest, ts, false, false)
			}
			if err != nil {
				break
			}
		}
		return result(err)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func TestCalcErrorWraps(t *testing.T) {
	sentinel := errors.New("boom")
	op := NewCalc([]expr.Expr{failing{sentinel}}, nil, &recorder{})
	err := op.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1)}}}})
	if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "evaluate FAIL()") {
		t.Fatalf("got %v", err)
	}
}

type failing struct{ err error }

func (f failing) Type() types.Type                        { return types.BigIntType() }
func (f failing) Eval([]types.Value) (types.Value, error) { return types.NullValue, f.err }
func (f failing) String() string                          { return "FAIL()" }
