package datagen_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/datagen"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

var clockStart = time.Date(2024, 1, 2, 3, 4, 5, 678000000, time.UTC)

// fakeClock advances only when the source sleeps.
type fakeClock struct {
	now   time.Time
	slept time.Duration
	calls int
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	c.slept += d
	c.calls++
	return ctx.Err()
}

// table builds a table from the first input line (a column list; "name TYPE METADATA" marks a metadata
// column) and the option lines that follow.
func table(t testing.TB, input string) *catalog.Table {
	lines := strings.Split(input, "\n")
	tbl := &catalog.Table{Name: "t", Options: map[string]string{"connector": "datagen"}}
	var phys []string
	var meta []string
	for _, col := range strings.Split(lines[0], ",") {
		col = strings.TrimSpace(col)
		if strings.HasSuffix(col, " METADATA") {
			meta = append(meta, strings.TrimSuffix(col, " METADATA"))
			continue
		}
		phys = append(phys, col)
	}
	rt, err := formattest.ParseSchema(strings.Join(phys, ", "))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rt.Fields {
		tbl.Columns = append(tbl.Columns, catalog.Column{Name: f.Name, Type: f.Type, Kind: sql.PhysicalColumn})
	}
	for _, m := range meta {
		mt, err := formattest.ParseSchema(m)
		if err != nil {
			t.Fatal(err)
		}
		tbl.Columns = append(tbl.Columns, catalog.Column{Name: mt.Fields[0].Name, Type: mt.Fields[0].Type, Kind: sql.MetadataColumn})
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, "=")
		tbl.Options[k] = v
	}
	return tbl
}

type collector struct {
	rows    [][]types.Value
	pushes  int
	maxSize int
	stopAt  int
	cancel  func()
}

func (c *collector) Push(b *changelog.Batch) error {
	c.pushes++
	c.maxSize = max(c.maxSize, b.Len())
	for _, r := range b.Rows {
		if r.Kind != changelog.Insert {
			return fmt.Errorf("kind %v", r.Kind)
		}
		c.rows = append(c.rows, changelog.CopyVals(r.Vals))
	}
	if c.stopAt > 0 && len(c.rows) >= c.stopAt && c.cancel != nil {
		c.cancel()
	}
	return nil
}
func (c *collector) Watermark(int64) error { return nil }
func (c *collector) End() error            { return nil }

func TestDatagen(t *testing.T) {
	datadriven.RunTest(t, "testdata/datagen", func(t *testing.T, d *datadriven.TestData) string {
		tbl := table(t, d.Input)
		clock := &fakeClock{now: clockStart}
		f := datagen.NewFactory(datagen.WithSeed(42), datagen.WithClock(clock.Now, clock.Sleep))
		src, err := f.CreateSource(connectors.Context{Table: tbl, Options: tbl.Options, Session: map[string]string{"table.local-time-zone": "Europe/Berlin"}})
		if err != nil {
			if !errors.Is(err, options.ErrValidation) {
				t.Errorf("error does not wrap ErrValidation: %v", err)
			}
			var oe *options.Error
			keys := ""
			if errors.As(err, &oe) && len(oe.Keys) > 0 {
				keys = fmt.Sprintf(" (keys %v)", oe.Keys)
			}
			return "error" + keys + ": " + err.Error() + "\n"
		}
		rt := tbl.PhysicalRowType()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &collector{cancel: cancel}
		if d.HasArg("stop") {
			d.ScanArgs(t, "stop", &out.stopAt)
		}
		runErr := src.Run(ctx, out)
		var b strings.Builder
		fmt.Fprintf(&b, "bounded=%v mode=%v rows=%d pushes=%d max-batch=%d slept=%v run=%v\n", src.Bounded(), src.ChangelogMode(),
			len(out.rows), out.pushes, out.maxSize, clock.slept, runErr)
		switch d.Cmd {
		case "run":
			for _, r := range out.rows {
				b.WriteString(formattest.DumpRow(r, rt) + "\n")
			}
		case "stats":
			for i, f := range rt.Fields {
				b.WriteString(stats(f.Name, f.Type, out.rows, i) + "\n")
			}
		default:
			t.Fatalf("unknown command %s", d.Cmd)
		}
		return b.String()
	})
}

// stats summarizes a column of random output, rounded so that the golden file is stable and readable:
// value range, null share, lengths, distinct values.
func stats(name string, t types.Type, rows [][]types.Value, col int) string {
	nulls := 0
	var lo, hi float64 = math.Inf(1), math.Inf(-1)
	lens := map[int]int{}
	distinct := map[string]bool{}
	var mean float64
	n := 0
	hexOnly := true
	for _, r := range rows {
		v := r[col]
		if v.IsNull() {
			nulls++
			continue
		}
		n++
		key := formattest.DumpRow([]types.Value{v}, types.RowType(types.Field{Name: "x", Type: t}))
		distinct[key] = true
		var x float64
		switch v.T {
		case types.TagInt, types.TagDate, types.TagTime, types.TagTimestamp:
			x = float64(v.I)
		case types.TagFloat:
			x = v.Float()
		case types.TagDecimal:
			f, _ := strconv.ParseFloat(strings.Trim(key, "()"), 64)
			x = f
		case types.TagString, types.TagBytes:
			lens[len(v.S)]++
			for _, c := range v.S {
				if !strings.ContainsRune("0123456789abcdef", c) {
					hexOnly = false
				}
			}
		case types.TagArray:
			lens[len(v.Array())]++
		case types.TagMap:
			lens[len(v.Map().Keys)]++
		case types.TagBool:
			if v.Bool() {
				x = 1
			}
		}
		lo, hi = math.Min(lo, x), math.Max(hi, x)
		mean += (x - mean) / float64(n)
	}
	s := fmt.Sprintf("%s %s: nulls=%.2f distinct=%d", name, t, float64(nulls)/float64(len(rows)), len(distinct))
	if n > 0 && len(lens) == 0 && t.Kind != types.Row {
		s += fmt.Sprintf(" min=%s max=%s mean=%s", round(t, lo), round(t, hi), round(t, mean))
	}
	if len(lens) > 0 {
		var ls []int
		for l := range lens {
			ls = append(ls, l)
		}
		sort.Ints(ls)
		s += fmt.Sprintf(" lengths=%d..%d", ls[0], ls[len(ls)-1])
		if t.IsString() {
			s += fmt.Sprintf(" hex=%v", hexOnly)
		}
	}
	return s
}

func round(t types.Type, x float64) string {
	switch t.Kind {
	case types.Timestamp, types.TimestampLTZ:
		return time.UnixMilli(int64(x)).UTC().Format("2006-01-02T15:04:05Z")
	case types.Date:
		return time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02")
	case types.Time:
		return time.Unix(0, int64(x)).UTC().Format("15:04:05")
	}
	if x == 0 {
		return "0"
	}
	// Two significant digits.
	return strconv.FormatFloat(x, 'g', 2, 64)
}

func TestCancel(t *testing.T) {
	tbl := table(t, "id INT")
	src, err := datagen.NewFactory().CreateSource(connectors.Context{Table: tbl, Options: tbl.Options})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &collector{stopAt: 1, cancel: cancel}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on cancellation")
	}
}

func TestRealRate(t *testing.T) {
	tbl := table(t, "id INT\nrows-per-second=200\nnumber-of-rows=50")
	src, err := datagen.NewFactory().CreateSource(connectors.Context{Table: tbl, Options: tbl.Options})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := src.Run(context.Background(), &collector{}); err != nil {
		t.Fatal(err)
	}
	// 50 rows at 200/s: the first batch goes at once, the rest take about 0.23 s.
	if el := time.Since(start); el < 150*time.Millisecond || el > 3*time.Second {
		t.Errorf("50 rows at 200 rows/s took %v", el)
	}
}
