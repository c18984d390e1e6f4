package exec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// xBlocker passes everything on to in, but the push number at (from 1) of its gate (shared by a subtask's
// inputs) waits until wait is closed (a slow subtask: its queue holds rows and watermarks the other subtasks
// processed).
type xBlocker struct {
	in changelog.Output
	g  *xGate
}

type xGate struct {
	at      int
	pushes  int
	wait    chan struct{}
	blocked chan struct{} // closed when the push waits
}

func (b *xBlocker) Push(batch *changelog.Batch) error {
	if g := b.g; g.pushes+1 == g.at {
		g.pushes++
		close(g.blocked)
		<-g.wait
	} else {
		g.pushes++
	}
	return b.in.Push(batch)
}
func (b *xBlocker) Watermark(wm int64) error { return b.in.Watermark(wm) }
func (b *xBlocker) End() error               { return b.in.End() }

// floorRun is an exchange of window operators keyed by user over rows (user, amount, window_start,
// window_end), its output collected.
type floorRun struct {
	x        *Exchange
	snd      *ExchangeSender   // of side 0
	snds     []*ExchangeSender // per side (a join's two get the same rows)
	others   []*ExchangeSender // the other senders of every side (watermarks and ends only)
	mu       sync.Mutex
	out      []string   // the output rows' values
	logs     [][]string // per subtask its output in order: rows' values and "wm=" watermarks
	blockers []*xGate   // per subtask (with a slow one)
	width    int64      // of a row's window
	done     chan error
	cancel   context.CancelFunc
}

func (r *floorRun) rows() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.out)
}

// newFloorRun runs n subtasks of kind ("window": per-window aggregate, "slice": TUMBLE slices, "session":
// session aggregate over assigned sessions, "hop" and "cumulate": their slices (rows of 10 s slices),
// "group": a GROUP BY user, "sort": a temporal sort by window_end (no floors), "rank": window Top-1 by amount with RANK (every row ties),
// "join": window join of two sides by user and window, "interval": a left outer interval join by user); subtask block (-1: none) is slow.
func newFloorRun(t *testing.T, kind string, n, block int) *floorRun {
	t.Helper()
	return newFloorRunSenders(t, kind, n, block, 1)
}

// newFloorRunSenders is newFloorRun with senders per side (the rows come from the first; watermarks and ends
// from all).
func newFloorRunSenders(t *testing.T, kind string, n, block, senders int) *floorRun {
	t.Helper()
	bigint, ts := types.Type{Kind: types.BigInt}, types.TimestampType(3)
	in := []types.Type{bigint, bigint, ts, ts}
	r := &floorRun{done: make(chan error, 1), width: 10_000}
	if kind == "session" {
		r.width = 4_000 // rows 10 s apart are separate sessions
	}
	outs := make([]changelog.Output, n)
	r.logs = make([][]string, n)
	for i := range outs {
		outs[i] = &wmLog{Output: NewCollect(func(row changelog.Row) error {
			var b strings.Builder
			for j, v := range row.Vals {
				if j > 0 {
					b.WriteByte('/')
				}
				fmt.Fprint(&b, v.I)
			}
			r.mu.Lock()
			r.out = append(r.out, b.String())
			r.logs[i] = append(r.logs[i], b.String())
			r.mu.Unlock()
			return nil
		}), r: r, i: i}
	}
	sd := ExchangeSide{Keys: []int{0}, KeyTypes: []types.Type{bigint}, Senders: senders}
	sides := []ExchangeSide{sd}
	if kind == "join" || kind == "interval" || twoSidedFloorKind(kind) {
		sides = append(sides, sd)
	}
	x, err := NewExchange(128, n, sides, func(k int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
		cfg := GroupAggConfig{Keys: []int{2, 3, 0}, InTypes: in, KeyTypes: []types.Type{ts, ts, bigint},
			Aggs: aggCalls(t, in, "COUNT(*)", "SUM($1)")}
		var op changelog.Output
		var err error
		ins := func() []changelog.Output { return []changelog.Output{op} }
		switch kind {
		case "rank":
			op = NewWindowRank(WindowRankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 1, EndCol: 3, Types: in, Func: "RANK"}, out)
		case "join":
			left, right := NewWindowJoin(WindowJoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0},
				LeftTypes: in, RightTypes: in, LeftEnd: 3, RightEnd: 3, Keyed: true}, out)
			op = left
			ins = func() []changelog.Output { return []changelog.Output{left, right} }
		case "interval":
			// a left outer interval join by user, the right row's window_end within 5 s of the left's
			left, right := NewJoin(JoinConfig{Type: LeftJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: in, RightTypes: in,
				Interval: &IntervalBounds{LeftTime: 3, RightTime: 3, Lower: -5_000, Upper: 5_000}}, out)
			op = left
			ins = func() []changelog.Output { return []changelog.Output{left, right} }
		case "over":
			// COUNT(*) and SUM(amount) per user, rows in time order, RANGE UNBOUNDED PRECEDING
			op, err = NewOverAgg(OverConfig{Partition: []int{0}, OrderCol: 3, Frame: OverFrame{Unbounded: true},
				Aggs: aggCalls(t, in, "COUNT(*)", "SUM($1)"), InTypes: in}, out)
		case "window":
			op, err = NewRoutedWindowAgg(cfg, 1, []int{2}, out)
		case "slice":
			op, err = NewSliceWindowAgg(cfg, WindowSpec{Kind: Tumble, Size: 10_000}, 0, 1, out)
		case "hop":
			op, err = NewSliceWindowAgg(cfg, WindowSpec{Kind: Hop, Size: 10_000, Slide: 5_000}, 0, 1, out)
		case "cumulate":
			op, err = NewSliceWindowAgg(cfg, WindowSpec{Kind: Cumulate, Size: 20_000, Slide: 5_000}, 0, 1, out)
		case "group":
			// by the exchange's key (as the engine's GROUP BY: its state is routed by its group key)
			cfg.Keys, cfg.KeyTypes = []int{0}, []types.Type{bigint}
			op, err = NewGroupAgg(cfg, out)
		case "sort":
			op = NewTemporalSort([]SortKey{{Col: 3}}, out)
		case "session":
			op, err = NewSessionWindowAgg(cfg, WindowSpec{Kind: Session, Size: 4_000}, 0, 1, out)
		default:
			// MATCH_RECOGNIZE, temporal and regular joins (exchange_unaligned_rescale_ops_test.go)
			var more []changelog.Output
			op, more, err = newFloorKindOp(t, kind, in, out)
			ins = func() []changelog.Output { return more }
		}
		if err != nil {
			return nil, nil, err
		}
		if block >= 0 {
			// the slow subtask waits in its first push; the others in their second (behind a watermark; a
			// join's: its fourth, each side pushing the same rows)
			g := &xGate{at: 2 * len(sides), wait: make(chan struct{}), blocked: make(chan struct{})}
			if k == block {
				g.at = 1
			}
			r.blockers = append(r.blockers, g)
			var bs []changelog.Output
			for _, in := range ins() {
				bs = append(bs, &xBlocker{in: in, g: g})
			}
			return bs, op, nil
		}
		return ins(), op, nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	for side := range sides {
		r.snds = append(r.snds, x.Sender(side, 0))
		for from := 1; from < senders; from++ {
			r.others = append(r.others, x.Sender(side, from))
		}
	}
	r.x, r.snd = x, r.snds[0]
	return r
}

// wmLog logs the watermarks of subtask i's output into r.logs.
type wmLog struct {
	changelog.Output
	r *floorRun
	i int
}

func (l *wmLog) Watermark(wm int64) error {
	l.r.mu.Lock()
	l.r.logs[l.i] = append(l.r.logs[l.i], fmt.Sprintf("wm=%d", wm))
	l.r.mu.Unlock()
	return l.Output.Watermark(wm)
}

// log returns subtask i's output log.
func (r *floorRun) log(i int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.logs[i])
}

// unblock lets the blocked subtasks go on.
func (r *floorRun) unblock() {
	for _, b := range r.blockers {
		close(b.wait)
	}
}

func (r *floorRun) run() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.x.Run(ctx) }()
}

// push sends rows (user, window_end) with amount 1 each, in windows of r.width.
func (r *floorRun) push(t *testing.T, rows ...[2]int64) {
	t.Helper()
	var b changelog.Batch
	for _, rw := range rows {
		b.Append(changelog.Insert, []types.Value{types.IntValue(rw[0]), types.IntValue(1), types.TimestampValue(rw[1]-r.width, 0), types.TimestampValue(rw[1], 0)})
	}
	for _, snd := range r.snds {
		if err := snd.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *floorRun) flush(t *testing.T) {
	t.Helper()
	for _, snd := range r.snds {
		if err := snd.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *floorRun) watermark(t *testing.T, wm int64) {
	t.Helper()
	for _, snd := range append(slices.Clone(r.snds), r.others...) {
		if err := snd.Watermark(wm); err != nil {
			t.Fatal(err)
		}
	}
}

// finish ends the input and waits for the subtasks.
func (r *floorRun) finish(t *testing.T) {
	t.Helper()
	for _, snd := range append(slices.Clone(r.snds), r.others...) {
		if err := snd.End(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
}

// waitRows waits until the output holds n rows.
func (r *floorRun) waitRows(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(r.rows()) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("output %v, want %d rows", r.rows(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUnalignedRescaleFloors: an unaligned checkpoint of window aggregates, window Top-N (RANK), a window
// join (both sides) or an interval join whose slow subtask had rows and a watermark in flight (its barrier overtook them) while
// the others had fired the watermark's windows and had rows behind it in flight restores at another
// parallelism (2 → 1, 2 → 3, 1 → 2, 3 → 2). The restored job's output, after what was emitted before the
// cut, equals the uninterrupted job's: no window fires twice (a row behind the fired watermark of its key
// group is late, also in a new subtask that resumes from a lower one), no row in flight is dropped as late
// (its key group resumes from the watermark it had), rows the source sends again after the watermarks in
// flight are late as they were, and the late-row count is the same.
func TestUnalignedRescaleFloors(t *testing.T) {
	for _, kind := range []string{"window", "slice", "hop", "cumulate", "session", "rank", "join", "interval", "over"} {
		for _, tc := range []struct{ from, to, block int }{{2, 1, 1}, {2, 3, 1}, {1, 2, 0}, {3, 2, 2}} {
			t.Run(fmt.Sprintf("%s/%d-%d", kind, tc.from, tc.to), func(t *testing.T) {
				testRescaleFloors(t, kind, tc.from, tc.to, tc.block)
			})
		}
	}
}

func testRescaleFloors(t *testing.T, kind string, from, to, block int) {
	t.Helper()
	testRescaleFloorsSenders(t, kind, from, to, block, 1)
}

// TestUnalignedRescaleLateFloors is TestUnalignedRescaleFloors restored with two senders instead of one (the
// watermarks in flight are not replayed): the rows the source sends again after the cut for the slow
// subtask's users, behind the watermark in its channel state, are late as in the uninterrupted job
// (exchange_unaligned_rescale_late.go), not aggregated; HOP and CUMULATE count a row behind it for some of its
// windows in the others only, and a left outer interval join probes and stores the rows as its old subtask.
func TestUnalignedRescaleLateFloors(t *testing.T) {
	for _, kind := range []string{"window", "slice", "hop", "cumulate", "session", "rank", "join", "interval", "over"} {
		for _, tc := range []struct{ from, to, block int }{{2, 1, 1}, {2, 3, 1}, {1, 2, 0}, {3, 2, 2}} {
			t.Run(fmt.Sprintf("%s/%d-%d", kind, tc.from, tc.to), func(t *testing.T) {
				testRescaleFloorsSenders(t, kind, tc.from, tc.to, tc.block, 2)
			})
		}
	}
}

func testRescaleFloorsSenders(t *testing.T, kind string, from, to, block, senders int) {
	t.Helper()
	w, got, want, wantLate, after := cutWithWatermarks(t, kind, from, block)
	restoreAndCompare(t, kind, from, to, senders, w, got, want, wantLate, after)
}

// restoreAndCompare restores kind's cut w (taken at from subtasks; got: emitted before it) at to subtasks
// fed by senders, sends after, and checks that got and the restored job's output equal want (sorted) and
// that its late rows are wantLate.
func restoreAndCompare(t *testing.T, kind string, from, to, senders int, w entryWriter, got, want []string, wantLate int64, after func(*testing.T, *floorRun)) {
	t.Helper()
	res := newFloorRunSenders(t, kind, to, -1, senders)
	if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
		t.Fatal(err)
	}
	res.run()
	after(t, res)
	got = append(got, res.rows()...)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("restored at %d (taken at %d):\n got %v\nwant %v", to, from, got, want)
	}
	if late := LateRows(res.x.State()); late != wantLate {
		t.Fatalf("late rows %d, want %d", late, wantLate)
	}
}

// cutWithWatermarks runs the job of testRescaleFloors uninterrupted (want: its output, sorted, and late rows)
// and with an unaligned checkpoint (w: its state; got: what was emitted before the cut).
func cutWithWatermarks(t *testing.T, kind string, from, block int) (w entryWriter, got, want []string, wantLate int64, after func(*testing.T, *floorRun)) {
	w, got, want, wantLate, after, _ = cutWith(t, kind, from, block, nil)
	return w, got, want, wantLate, after
}

// afterParts returns what the restored source sends after the cut in two parts (the users all), the input's
// end not included.
type afterParts func(all []int64) (p1, p2 func(*testing.T, *floorRun))

// cutWith is cutWithWatermarks with what the source sends after the cut given by parts (nil: the default),
// returning all the users too.
func cutWith(t *testing.T, kind string, from, block int, parts afterParts) (w entryWriter, got, want []string, wantLate int64, after func(*testing.T, *floorRun), all []int64) {
	// users of the slow subtask and of the others
	probe := newFloorRun(t, kind, from, -1)
	var slow, fast []int64
	for u := int64(0); len(slow) < 3 || from > 1 && len(fast) < 3; u++ {
		if probe.snd.owner([]types.Value{types.IntValue(u)}) == block {
			slow = append(slow, u)
		} else {
			fast = append(fast, u)
		}
	}
	all = append(append([]int64(nil), slow...), fast...)
	rowsAt := func(us []int64, end int64) [][2]int64 {
		var rs [][2]int64
		for _, u := range us {
			rs = append(rs, [2]int64{u, end})
		}
		return rs
	}
	// before the cut: the slow subtask waits in its first push; the others fire the windows ending at 10 s,
	// then wait in their next push with late rows queued
	before := func(t *testing.T, r *floorRun) {
		r.push(t, rowsAt(slow, 100_000)...)
		r.flush(t)
		<-r.blockers[block].blocked
		r.push(t, rowsAt(all, 10_000)...)
		r.push(t, rowsAt(all, 20_000)...)
		if kind == "hop" || kind == "cumulate" {
			// a 5 s slice of a window that fires at the watermark and of one that does not
			r.push(t, rowsAt(all, 15_000)...)
		}
		r.watermark(t, 15_000)
		r.push(t, rowsAt(all, 20_000)...)
		r.flush(t)
		if from > 1 {
			for k, b := range r.blockers {
				if k != block {
					<-b.blocked
				}
			}
			r.waitRows(t, len(fast)) // the fast subtasks fired their windows ending at 10 s
			r.push(t, rowsAt(fast, 10_000)...)
			r.flush(t)
		}
	}
	// after the cut (what the restored source sends again): late rows of every user, new windows, the end
	after = func(t *testing.T, r *floorRun) {
		r.push(t, rowsAt(all, 10_000)...)
		r.push(t, rowsAt(all, 30_000)...)
		r.watermark(t, 35_000)
		r.push(t, rowsAt(all, 20_000)...)
		r.push(t, rowsAt(all, 40_000)...)
		r.finish(t)
	}
	if parts != nil {
		p1, p2 := parts(all)
		after = func(t *testing.T, r *floorRun) {
			p1(t, r)
			p2(t, r)
			r.finish(t)
		}
	}

	// the uninterrupted job
	ref := newFloorRun(t, kind, from, block)
	ref.run()
	before(t, ref)
	ref.unblock()
	after(t, ref)
	want = ref.rows()
	slices.Sort(want)
	wantLate = LateRows(ref.x.State())

	// the job with an unaligned checkpoint, cut while the slow subtask had rows and a watermark in flight
	cut := newFloorRun(t, kind, from, block)
	cut.run()
	before(t, cut)
	c0 := UnalignedTotals()
	w, got = cutUnaligned(t, cut.x, cut.unblock, cut.rows) // emitted before the cut
	cut.cancel()
	<-cut.done
	if c := UnalignedTotals(); c.Watermark-c0.Watermark < 1 || c.Written-c0.Written < 2 {
		t.Fatalf("the barrier overtook %d watermarks, %d items written; want a watermark and rows", c.Watermark-c0.Watermark, c.Written-c0.Written)
	}

	return w, got, want, wantLate, after, all
}

// TestUnalignedRescaleFloorsRefused: an operator that cannot take per-key-group floors (a temporal sort: its
// state is not by window) keeps the refusal of channel state with watermarks at another parallelism, naming
// the parallelism to restore at; at the same one it restores.
func TestUnalignedRescaleFloorsRefused(t *testing.T) {
	w, _, _, _, _ := cutWithWatermarks(t, "sort", 2, 1)
	err := StateOf(newFloorRun(t, "sort", 1, -1).x.State()).RestoreState(entriesReader(w.es))
	if err == nil || !strings.Contains(err.Error(), "holds watermarks in flight to its 2 keyed subtasks") || !strings.Contains(err.Error(), "restores only at that parallelism (here 1): restore it at 2") {
		t.Fatalf("sort restored at 1: %v", err)
	}
	if err := StateOf(newFloorRun(t, "sort", 2, -1).x.State()).RestoreState(entriesReader(w.es)); err != nil {
		t.Fatalf("sort restored at 2: %v", err)
	}
}

// TestUnalignedRescaleFloorsCheckpoint: a checkpoint taken while restored subtasks hold floors records every
// key group's fired watermark (writeFloors), and a restore of it at another parallelism installs them
// (restoreFloors): each new subtask resumes from the lowest of its key groups and keeps the others as floors.
func TestUnalignedRescaleFloorsCheckpoint(t *testing.T) {
	w, _, _, _, _ := cutWithWatermarks(t, "window", 2, 1)
	res := newFloorRun(t, "window", 1, -1)
	if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
		t.Fatal(err)
	}
	var w2 entryWriter
	if err := res.x.writeFloors(nil, &w2); err != nil || len(w2.es) != 1 {
		t.Fatalf("floors written: %v, %v", w2.es, err)
	}
	_, fired, err := takeFloors(w2.es, 128)
	if err != nil {
		t.Fatal(err)
	}
	for g, wm := range fired {
		want := int64(15_000) // the fast subtask's key groups fired the windows ending at 10 s
		if Subtask(g, 128, 2) == 1 {
			want = minWatermark // the slow one fired none
		}
		if wm != want {
			t.Fatalf("key group %d: fired %d, want %d", g, wm, want)
		}
	}
	again := newFloorRun(t, "window", 2, -1)
	if err := again.x.restoreFloors(&floorSource{saved: fired}); err != nil {
		t.Fatal(err)
	}
	for k, s := range again.x.subs {
		op := StateOf(s.op).(floorable)
		if k == 0 && (op.firedWM() != 15_000 || s.floors != nil) || k == 1 && (op.firedWM() != minWatermark || s.floors == nil || s.floors.hasKG) {
			t.Fatalf("subtask %d: fired %d, floors %v", k, op.firedWM(), s.floors)
		}
	}
	// a damaged entry is an error
	bad := []stateEntry{{ns: nsChannel, key: []byte{4}, value: w2.es[0].value[:len(w2.es[0].value)-1]}}
	if _, _, err := takeFloors(bad, 128); err == nil {
		t.Fatal("damaged floors entry decoded")
	}
}
