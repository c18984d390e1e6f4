package nexmark

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
)

// collector keeps the events pushed to it as lines; after stopAfter pushes (0: never) it cancels the run.
type collector struct {
	lines     []string
	pushes    int
	stopAfter int
	cancel    context.CancelFunc
}

func (c *collector) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if r.Kind != changelog.Insert || len(r.Vals) != 4 {
			return errors.New("bad row")
		}
		c.lines = append(c.lines, eventLine(r.Vals))
	}
	c.pushes++
	if c.stopAfter > 0 && c.pushes == c.stopAfter {
		c.cancel()
	}
	return nil
}
func (c *collector) Watermark(int64) error { return nil }
func (c *collector) End() error            { return nil }

func benchmarkTable(opts map[string]string) *catalog.Table {
	t := &catalog.Table{Name: "datagen", Options: map[string]string{"connector": "nexmark"}}
	for _, c := range Schema() {
		c.Kind = sql.PhysicalColumn
		t.Columns = append(t.Columns, c)
	}
	for k, v := range opts {
		t.Options[k] = v
	}
	return t
}

func create(t *testing.T, opts map[string]string) (connectors.Source, error) {
	t.Helper()
	clock := time.UnixMilli(testBase)
	f := NewFactory(WithClock(func() time.Time { return clock }, func(context.Context, time.Duration) error { return nil }))
	tbl := benchmarkTable(opts)
	return f.CreateSource(connectors.Context{Table: tbl, Options: tbl.Options})
}

func run(t *testing.T, opts map[string]string, stopAfter int, restore []byte) (*collector, connectors.Source) {
	t.Helper()
	src, err := create(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	if restore != nil {
		if err := src.(connectors.Checkpointed).RestorePosition(restore); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{stopAfter: stopAfter, cancel: cancel}
	err = src.Run(ctx, c)
	if stopAfter == 0 && err != nil {
		t.Fatal(err)
	}
	if stopAfter > 0 && !errors.Is(err, context.Canceled) {
		t.Fatalf("run stopped after %d pushes: %v", stopAfter, err)
	}
	return c, src
}

func TestBoundedCount(t *testing.T) {
	c, src := run(t, map[string]string{"events.num": "2500", "seed": "3"}, 0, nil)
	if !src.Bounded() || len(c.lines) != 2500 || c.pushes != 3 {
		t.Fatalf("bounded %v, %d events in %d pushes", src.Bounded(), len(c.lines), c.pushes)
	}
	c, src = run(t, map[string]string{"events.num": "2500", "stop-at": "10", "seed": "3"}, 0, nil)
	if !src.Bounded() || len(c.lines) != 10 {
		t.Fatalf("stop-at: bounded %v, %d events", src.Bounded(), len(c.lines))
	}
	for _, opts := range []map[string]string{{}, {"events.num": "10", "keep-alive": "true"}} {
		src, err := create(t, opts)
		if err != nil || src.Bounded() {
			t.Fatalf("%v: bounded %v, %v", opts, src.Bounded(), err)
		}
	}
	// keep-alive: after the last event the source idles until cancelled.
	c, _ = run(t, map[string]string{"events.num": "10", "keep-alive": "true"}, 1, nil)
	if len(c.lines) != 10 {
		t.Fatalf("keep-alive: %d events", len(c.lines))
	}
}

func TestCheckpointRestoreResumesAtTheNextEvent(t *testing.T) {
	opts := map[string]string{"events.num": "5000", "seed": "11"}
	ref, _ := run(t, opts, 0, nil)
	for _, stopAfter := range []int{1, 3} {
		// A run cancelled after some pushes; its position is after the last pushed batch.
		part, src := run(t, opts, stopAfter, nil)
		pos, err := src.(connectors.Checkpointed).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		if len(part.lines) != stopAfter*maxBatch {
			t.Fatalf("stopped run pushed %d events", len(part.lines))
		}
		// A source with another seed and base time, restored from the position: the position carries them.
		rest, src2 := run(t, map[string]string{"events.num": "5000", "seed": "99", "base-time": "5"}, 0, pos)
		all := append(append([]string(nil), part.lines...), rest.lines...)
		if len(all) != len(ref.lines) {
			t.Fatalf("%d + %d events after restore, want %d", len(part.lines), len(rest.lines), len(ref.lines))
		}
		for i := range all {
			if all[i] != ref.lines[i] {
				t.Fatalf("event %d (restored at %d):\n got %s\nwant %s", i, len(part.lines), all[i], ref.lines[i])
			}
		}
		// The end position restores to nothing more.
		end, _ := src2.(connectors.Checkpointed).SnapshotPosition()
		if none, _ := run(t, opts, 0, end); len(none.lines) != 0 {
			t.Fatalf("restore at the end generated %d events", len(none.lines))
		}
	}
	src, _ := create(t, opts)
	if err := src.(connectors.Checkpointed).RestorePosition([]byte{9, 1}); err == nil {
		t.Fatal("a corrupt position was accepted")
	}
}

func TestOptionAndSchemaErrors(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"events.numb": "1"}, "Unsupported options found for 'nexmark'"},
		{map[string]string{"first-event.rate": "0"}, "Invalid value for option 'first-event.rate': '0' must be positive"},
		{map[string]string{"bid.proportion": "-1"}, "'bid.proportion': '-1' must be positive"},
		{map[string]string{"events.num": "-5"}, "'events.num': '-5' must not be negative"},
		{map[string]string{"rate.shape": "TRIANGLE"}, "rate.shape"},
		{map[string]string{"person.avg-size": "lots"}, "person.avg-size"},
	} {
		_, err := create(t, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, options.ErrValidation) {
			t.Errorf("%v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	f := NewFactory()
	for _, tc := range []struct {
		edit func(t *catalog.Table)
		want string
	}{
		{func(t *catalog.Table) { t.Columns = t.Columns[:3] }, "it has 3 physical columns (event_type, person, auction), want 4"},
		{func(t *catalog.Table) { t.Columns[0].Type.Kind = 6 }, "column 'event_type' has type BIGINT, want INT"},
		{func(t *catalog.Table) { t.Columns[1].Type.Fields[2].Name = "email" }, "field 3 of column 'person' is 'email', want 'emailAddress'"},
		{func(t *catalog.Table) { t.Columns[3].Type.Fields[2].Type = t.Columns[3].Type.Fields[3].Type },
			"column 'bid.price' has type STRING, want BIGINT"},
		{func(t *catalog.Table) {
			t.Columns = append(t.Columns, catalog.Column{Name: "m", Kind: sql.MetadataColumn, Type: t.Columns[0].Type})
		}, "metadata column 'm' is not supported"},
	} {
		tbl := benchmarkTable(nil)
		tc.edit(tbl)
		_, err := f.CreateSource(connectors.Context{Table: tbl, Options: tbl.Options})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ddl_gen.sql") {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
}

// Paced emission (max-emit-speed = false, or rate.limited): each batch of rate/10 events waits until its
// first event is due. At 100 events/s, batches of 10; event number 10k+1 is due (10k+1) × 10 ms after the
// first emission. The clock here only moves when the source sleeps.
func TestPacedEmission(t *testing.T) {
	for _, key := range []string{"max-emit-speed", "rate.limited"} {
		val := "false"
		if key == "rate.limited" {
			val = "true"
		}
		now := time.UnixMilli(testBase)
		var sleeps []time.Duration
		f := NewFactory(WithClock(func() time.Time { return now }, func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			now = now.Add(d)
			return nil
		}))
		tbl := benchmarkTable(map[string]string{"events.num": "30", "first-event.rate": "100", "next-event.rate": "100", key: val})
		src, err := f.CreateSource(connectors.Context{Table: tbl, Options: tbl.Options})
		if err != nil {
			t.Fatal(err)
		}
		c := &collector{}
		if err := src.Run(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
		if len(c.lines) != 30 || c.pushes != 3 || fmt.Sprint(sleeps) != fmt.Sprint(want) {
			t.Fatalf("%s: %d events in %d pushes, sleeps %v, want %v", key, len(c.lines), c.pushes, sleeps, want)
		}
	}
}
