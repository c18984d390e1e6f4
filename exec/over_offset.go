package exec

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// LAG(x [, offset [, default]]) and LEAD(...) OVER (...) (the planner's over_offset.go). In batch mode
// the planner gives each function and offset an OverAggregate whose frame is the one row at the offset
// (ROWS BETWEEN n PRECEDING AND n PRECEDING, or n FOLLOWING AND n FOLLOWING, which overAheadEval runs, and
// spills, as any frame): offsetAcc holds that row's x. In streaming mode, as Flink's LagAggFunction, LAG
// runs over the window's default frame, RANGE UNBOUNDED PRECEDING to CURRENT ROW (rows with equal times are
// added before any of them is emitted, so they share their value: the x offset rows before the last of
// them): lagAcc keeps the last offset+1 values. Without a row at the offset both give the default
// (AggCall.Args[1], cast to x's type by the planner; NULL without one): in batch the current row's value
// of it, as Flink's OffsetOverFrame; in streaming, as LagAggFunction, whose accumulator keeps the default
// of the last row it accumulated, the last added row's value of it, so rows of equal time share it too.

func isOffsetAgg(fn string) bool {
	fn = strings.ToUpper(fn)
	return fn == "LAG" || fn == "LEAD"
}

// offsetDefaulted is an accumulator whose result, when it has no row at the offset, is a column of the
// current row (the emitting operators ask it: sortedOver.emit, overAgg.emitRow).
type offsetDefaulted interface {
	// missing reports whether there is no row at the offset; dflt is then the default's column (-1: NULL).
	missing() (dflt int, none bool)
}

// offsetSpec is the aggSpec of a LAG/LEAD call (its name, for the state signature).
func offsetSpec(c AggCall) *aggSpec {
	s := &aggSpec{fn: strings.ToUpper(c.Func), args: c.Args, filter: -1, resType: c.Type}
	if len(c.ArgTypes) > 0 {
		s.argType = c.ArgTypes[0]
	}
	return s
}

func offsetDefault(c AggCall) int {
	if len(c.Args) > 1 {
		return c.Args[1]
	}
	return -1
}

// offsetAcc is LAG/LEAD in batch mode: its frame holds at most the one row at the offset.
type offsetAcc struct {
	arg, dflt int
	n         int64
	v         types.Value
}

func newOffsetAcc(c AggCall) *offsetAcc { return &offsetAcc{arg: c.Args[0], dflt: offsetDefault(c)} }

func (a *offsetAcc) add(row []types.Value) { a.n++; a.v = row[a.arg] }
func (a *offsetAcc) retract([]types.Value) {
	if a.n--; a.n == 0 {
		a.v = types.Value{}
	}
}
func (a *offsetAcc) result() types.Value {
	if a.n <= 0 {
		return types.Value{}
	}
	return a.v
}
func (a *offsetAcc) reset()               { a.n, a.v = 0, types.Value{} }
func (a *offsetAcc) missing() (int, bool) { return a.dflt, a.n <= 0 }
func (a *offsetAcc) appendState(b []byte) []byte {
	return appendValue(binary.AppendVarint(b, a.n), a.v)
}
func (a *offsetAcc) loadState(src []byte) ([]byte, error) {
	d := stateDec{b: src}
	a.n = d.varint()
	a.v = d.value()
	return d.b, d.err
}

// lagAcc is LAG in streaming mode: a ring of the last off+1 values added (no retraction: its frame is
// unbounded). The ring grows with the rows added, so a large offset costs only what the partition holds.
// dv is the default's value in the last row added (Flink's LagAcc.defaultValue): result gives it while the
// ring is not full. It is not part of the state: the streaming operator adds a row before every result
// (over.go's advance adds a time's peers, then emits them), so a restored dv is never read.
type lagAcc struct {
	arg, dflt int
	off       int64
	ring      []types.Value
	start     int // the oldest value, once the ring is full
	dv        types.Value
}

func newLagAcc(c AggCall, off int64) *lagAcc {
	return &lagAcc{arg: c.Args[0], dflt: offsetDefault(c), off: off}
}

func (a *lagAcc) full() bool { return int64(len(a.ring)) > a.off }

func (a *lagAcc) add(row []types.Value) {
	if a.dflt >= 0 {
		a.dv = row[a.dflt]
	}
	a.push(row[a.arg])
}

func (a *lagAcc) push(v types.Value) {
	if !a.full() {
		a.ring = append(a.ring, v)
		return
	}
	a.ring[a.start] = v
	a.start = (a.start + 1) % len(a.ring)
}
func (a *lagAcc) retract([]types.Value) {} // never called: the frame is unbounded
func (a *lagAcc) result() types.Value {
	if !a.full() {
		return a.dv
	}
	return a.ring[a.start]
}
func (a *lagAcc) reset() {
	clear(a.ring)
	a.ring, a.start, a.dv = a.ring[:0], 0, types.Value{}
}

// appendState: uvarint n + the n values, oldest first.
func (a *lagAcc) appendState(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.ring)))
	for i := range a.ring {
		dst = appendValue(dst, a.ring[(a.start+i)%len(a.ring)])
	}
	return dst
}

func (a *lagAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	n := d.count()
	if d.err == nil && int64(n) > a.off+1 {
		return nil, fmt.Errorf("LAG with offset %d holds %d values in the state, more than %d", a.off, n, a.off+1)
	}
	for range n {
		a.push(d.value())
	}
	return d.b, d.err
}

// offsetValue is accumulator a's value for the current row cur: its result, or cur's default when a is a
// LAG/LEAD without a row at the offset.
func offsetValue(a accumulator, cur []types.Value) types.Value {
	if o, ok := a.(offsetDefaulted); ok {
		if d, none := o.missing(); none {
			if d < 0 {
				return types.Value{}
			}
			return cur[d]
		}
	}
	return a.result()
}
