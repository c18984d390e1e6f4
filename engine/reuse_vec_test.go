package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// colRecorder takes columns and records the value of column 0 (and 1) of every selected row.
type colRecorder struct {
	got    []string
	pushes int // columnar batches
}

func (r *colRecorder) PushColumns(b *vec.Batch) error {
	r.pushes++
	for k := 0; k < b.Len(); k++ {
		i := b.Row(k)
		r.got = append(r.got, fmt.Sprintf("%d:%s", b.Cols[0].I64[i], b.Cols[1].Str(i)))
	}
	return nil
}

func (r *colRecorder) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		r.got = append(r.got, fmt.Sprintf("%d:%s", row.Vals[0].I, row.Vals[1].S))
	}
	return nil
}
func (r *colRecorder) Watermark(int64) error { return nil }
func (r *colRecorder) End() error            { return nil }
func (r *colRecorder) AcceptsColumns() bool  { return true }

// rowRecorder takes rows only, and records the batches it was given.
type rowRecorder struct {
	rec     colRecorder
	batches []*changelog.Batch
}

func (r *rowRecorder) Push(b *changelog.Batch) error {
	r.batches = append(r.batches, b)
	return r.rec.Push(b)
}
func (r *rowRecorder) Watermark(int64) error { return nil }
func (r *rowRecorder) End() error            { return nil }

// discard takes columns and drops them.
type discard struct{ rows bool }

func (discard) PushColumns(*vec.Batch) error { return nil }
func (discard) Push(*changelog.Batch) error  { return nil }
func (discard) Watermark(int64) error        { return nil }
func (discard) End() error                   { return nil }
func (d discard) AcceptsColumns() bool       { return !d.rows }

// vandal takes columns and scribbles on the header it is given.
type vandal struct{}

func (vandal) PushColumns(b *vec.Batch) error {
	b.Sel = append(b.Sel[:0], 0)
	if len(b.Sel) > 0 {
		b.Sel[0] = 0
	}
	b.Cols[0], b.N = nil, 1
	return nil
}
func (vandal) Push(*changelog.Batch) error { return nil }
func (vandal) Watermark(int64) error       { return nil }
func (vandal) End() error                  { return nil }
func (vandal) AcceptsColumns() bool        { return true }

// TestFanoutColumnsBranchesIsolated hands columnar batches to branches with disjoint filters (Calcs on the
// columnar path), a branch that rewrites its header, a branch that takes the columns as they come and two
// that take rows: no branch sees another's selection, the input batch is unchanged, and rows are converted
// once for both row branches.
func TestFanoutColumnsBranchesIsolated(t *testing.T) {
	env := expr.NewEnv(nil)
	a := expr.Column(0, "a", types.BigIntType())
	s := expr.Column(1, "s", types.StringType())
	filter := func(op string, v int64) expr.Expr {
		x, err := expr.Call(env, op, a, expr.Literal(types.IntValue(v), types.BigIntType()))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	low, high, all := &colRecorder{}, &colRecorder{}, &colRecorder{}
	rows1, rows2 := &rowRecorder{}, &rowRecorder{}
	f := &fanout{outs: []changelog.Output{
		exec.NewCalc([]expr.Expr{a, s}, filter("<", 5), low),
		vandal{},
		exec.NewCalc([]expr.Expr{a, s}, filter(">=", 5), high),
		rows1,
		all,
		rows2,
	}}
	if !f.AcceptsColumns() {
		t.Fatal("the fanout does not take columns")
	}
	in := &vec.Batch{N: 10, Cols: []*vec.Col{vec.ColFor(types.BigIntType()), vec.ColFor(types.StringType())}}
	for i := range 10 {
		in.Cols[0].I64 = append(in.Cols[0].I64, int64(i))
		in.Cols[1].AppendString(fmt.Sprintf("s%d", i))
	}
	cols := append([]*vec.Col(nil), in.Cols...)
	if err := f.PushColumns(in); err != nil {
		t.Fatal(err)
	}
	// the second batch has a selection of its own (odd rows)
	in.Sel = []int32{1, 3, 5, 7, 9}
	if err := f.PushColumns(in); err != nil {
		t.Fatal(err)
	}
	if in.N != 10 || fmt.Sprint(in.Sel) != "[1 3 5 7 9]" || in.Cols[0] != cols[0] || in.Cols[1] != cols[1] || len(in.Cols) != 2 {
		t.Fatalf("the input batch changed: N %d, Sel %v, Cols %v (were %v)", in.N, in.Sel, in.Cols, cols)
	}
	want := map[string]*colRecorder{
		"low":   low,
		"high":  high,
		"all":   all,
		"rows1": &rows1.rec,
		"rows2": &rows2.rec,
	}
	exp := map[string]string{
		"low":   "0:s0 1:s1 2:s2 3:s3 4:s4 1:s1 3:s3",
		"high":  "5:s5 6:s6 7:s7 8:s8 9:s9 5:s5 7:s7 9:s9",
		"all":   "0:s0 1:s1 2:s2 3:s3 4:s4 5:s5 6:s6 7:s7 8:s8 9:s9 1:s1 3:s3 5:s5 7:s7 9:s9",
		"rows1": "0:s0 1:s1 2:s2 3:s3 4:s4 5:s5 6:s6 7:s7 8:s8 9:s9 1:s1 3:s3 5:s5 7:s7 9:s9",
		"rows2": "0:s0 1:s1 2:s2 3:s3 4:s4 5:s5 6:s6 7:s7 8:s8 9:s9 1:s1 3:s3 5:s5 7:s7 9:s9",
	}
	for name, r := range want {
		if got := strings.Join(r.got, " "); got != exp[name] {
			t.Errorf("branch %s saw %q, want %q", name, got, exp[name])
		}
	}
	if low.pushes != 2 || high.pushes != 2 || all.pushes != 2 {
		t.Errorf("columnar pushes: low %d, high %d, all %d; want 2 each (the Calcs run on columns)", low.pushes, high.pushes, all.pushes)
	}
	// rows are converted once per batch for both row branches
	if len(rows1.batches) != 2 || len(rows2.batches) != 2 || rows1.batches[1] != rows2.batches[1] {
		t.Errorf("row branches got batches %p and %p: not one conversion", rows1.batches, rows2.batches)
	}

	// no allocation per batch: headers and selection vectors are reused
	f = &fanout{outs: []changelog.Output{
		exec.NewCalc([]expr.Expr{a, s}, filter("<", 5), discard{}),
		exec.NewCalc([]expr.Expr{a, s}, filter(">=", 5), discard{}),
		discard{},
		discard{rows: true},
		discard{rows: true},
	}}
	if err := f.PushColumns(in); err != nil {
		t.Fatal(err)
	}
	in.Sel = nil
	if n := testing.AllocsPerRun(50, func() {
		if err := f.PushColumns(in); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
}

// nexmarkViews are the benchmark's views over nexmarkReuseTables' table, with every column.
const nexmarkViews = `
CREATE VIEW person AS SELECT person.id, person.name, person.emailAddress, person.creditCard, person.city, person.state, {dt}, person.extra FROM datagen WHERE event_type = 0;
CREATE VIEW auction AS SELECT auction.id, auction.itemName, auction.description, auction.initialBid, auction.reserve, {dt}, auction.expires, auction.seller, auction.category, auction.extra FROM datagen WHERE event_type = 1;
CREATE VIEW bid AS SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url, {dt}, bid.extra FROM datagen WHERE event_type = 2;
`

// fanoutQueries are Nexmark q3, q5, q7, q8, q9 and q20 as the benchmark writes them (windows scaled down: the
// events span 3 s), and filter-only branches of one view and of two views.
var fanoutQueries = map[string]string{
	"q3": `SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P on A.seller = P.id
  WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')`,
	"q5": `SELECT AuctionBids.auction, AuctionBids.num FROM (
  SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
  FROM TABLE(HOP(TABLE bid, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND, INTERVAL '0.5' SECOND)) GROUP BY auction, window_start, window_end
) AS AuctionBids JOIN (
  SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM (
    SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND, INTERVAL '0.5' SECOND)) GROUP BY auction, window_start, window_end
  ) AS CountBids GROUP BY CountBids.starttime, CountBids.endtime
) AS MaxBids ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime AND AuctionBids.num >= MaxBids.maxn`,
	"q7": `SELECT B.auction, B.price, B.bidder, B.{dt}, B.extra FROM bid B JOIN (
  SELECT MAX(price) AS maxprice, window_end as {dt} FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND)) GROUP BY window_start, window_end
) B1 ON B.price = B1.maxprice WHERE B.{dt} BETWEEN B1.{dt} - INTERVAL '0.1' SECOND AND B1.{dt}`,
	"q8": `SELECT P.id, P.name, P.starttime FROM (
  SELECT id, name, window_start AS starttime, window_end AS endtime
  FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND)) GROUP BY id, name, window_start, window_end
) P JOIN (
  SELECT seller, window_start AS starttime, window_end AS endtime
  FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR({dt}), INTERVAL '0.1' SECOND)) GROUP BY seller, window_start, window_end
) A ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime`,
	"q9": `SELECT id, itemName, description, initialBid, reserve, {dt}, expires, seller, category, extra,
    auction, bidder, price, bid_dateTime, bid_extra FROM (
  SELECT A.*, B.auction, B.bidder, B.price, B.{dt} AS bid_dateTime, B.extra AS bid_extra,
    ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.{dt} ASC) AS rownum
  FROM auction A, bid B WHERE A.id = B.auction AND B.{dt} BETWEEN A.{dt} AND A.expires
) WHERE rownum <= 1`,
	"q20": `SELECT auction, bidder, price, channel, url, B.{dt}, B.extra, itemName, description, initialBid, reserve, A.{dt},
    expires, seller, category, A.extra FROM bid AS B INNER JOIN auction AS A on B.auction = A.id WHERE A.category = 10`,
	"filters": `SELECT auction, price, 'low' FROM bid WHERE price < 2000 UNION ALL SELECT auction, price, 'high' FROM bid WHERE price >= 2000`,
	"views":   `SELECT id, name FROM person WHERE state = 'OR' UNION ALL SELECT id, itemName FROM auction WHERE category = 10`,
}

// TestReusedScanColumnarFanout runs queries over the views of one nexmark table (a reused scan: one instance
// at parallelism 1, source subtasks at 2) with the columnar fanout and with the row fanout: equal results.
func TestReusedScanColumnarFanout(t *testing.T) {
	tables := strings.Replace(nexmarkReuseTables, "CREATE VIEW", "-- CREATE VIEW", -1)
	tables = tables[:strings.Index(tables, "-- CREATE VIEW")] + nexmarkViews
	defer func() { rowFanout = false }()
	for _, name := range []string{"q3", "q5", "q7", "q8", "q9", "q20", "filters", "views"} {
		q := fanoutQueries[name]
		for _, par := range []int{1, 2} {
			rowFanout = true
			before := fanoutColumnBatches.Load()
			want, n := reuseResult(t, tables, q, par)
			if c := fanoutColumnBatches.Load() - before; c != 0 {
				t.Fatalf("%s at parallelism %d: %d columnar batches through the row fanout", name, par, c)
			}
			if wantN := int64(par / 2); n != wantN {
				t.Fatalf("%s at parallelism %d: %d reused scans as subtasks, want %d", name, par, n, wantN)
			}
			if strings.Count(want, "\n") < 5 {
				t.Fatalf("%s: too few rows to compare:\n%s", name, want)
			}
			rowFanout = false
			before = fanoutColumnBatches.Load()
			got, _ := reuseResult(t, tables, q, par)
			if c := fanoutColumnBatches.Load() - before; c == 0 {
				t.Fatalf("%s at parallelism %d: no columnar batch through the fanout", name, par)
			}
			if got != want {
				t.Fatalf("%s at parallelism %d: the columnar fanout differs from the row fanout\ngot:\n%.3000s\nwant:\n%.3000s", name, par, got, want)
			}
		}
	}
}
