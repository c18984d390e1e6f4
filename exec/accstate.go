package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluicesql/sluice/types"
)

// Accumulator state encodings, for checkpoints (state.Snapshotter). Each accumulator appends its state with
// appendState and reads it back with loadState, which returns the rest of the input. Encodings are compact
// (varints, values in the spill encoding of rowcodec.go) and carry no names: the operator's configuration
// (the same plan) says which accumulator comes next.

var errBadAccState = errors.New("unreadable aggregate state")

// accState is implemented by every accumulator.
type accState interface {
	appendState(dst []byte) []byte
	loadState(src []byte) ([]byte, error)
}

func readVarint(src []byte) (int64, []byte, error) {
	v, n := binary.Varint(src)
	if n <= 0 {
		return 0, nil, errBadAccState
	}
	return v, src[n:], nil
}

func readUvarint(src []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(src)
	if n <= 0 {
		return 0, nil, errBadAccState
	}
	return v, src[n:], nil
}

func readBytes(src []byte) ([]byte, []byte, error) {
	l, rest, err := readUvarint(src)
	if err != nil || l > uint64(len(rest)) {
		return nil, nil, errBadAccState
	}
	return rest[:l], rest[l:], nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// count: varint n.
func (a *countAcc) appendState(dst []byte) []byte { return binary.AppendVarint(dst, a.n) }
func (a *countAcc) loadState(src []byte) (rest []byte, err error) {
	a.n, rest, err = readVarint(src)
	return rest, err
}

// sum/avg: class byte, varint count, then by class: varint int sum | float bits | decimal value; scale.
func (a *sumAcc) appendState(dst []byte) []byte {
	dst = append(dst, byte(a.class))
	dst = binary.AppendVarint(dst, a.cnt)
	dst = binary.AppendVarint(dst, int64(a.scale))
	switch a.class {
	case numInt:
		dst = binary.AppendVarint(dst, a.i)
	case numFloat:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.f))
	case numDecimal:
		dst = appendValueBinary(dst, a.d)
	}
	return dst
}

func (a *sumAcc) loadState(src []byte) ([]byte, error) {
	if len(src) == 0 {
		return nil, errBadAccState
	}
	a.class = numClass(src[0])
	var err error
	var scale int64
	if a.cnt, src, err = readVarint(src[1:]); err != nil {
		return nil, err
	}
	if scale, src, err = readVarint(src); err != nil {
		return nil, err
	}
	a.scale = int(scale)
	switch a.class {
	case numInt:
		a.i, src, err = readVarint(src)
	case numFloat:
		if len(src) < 8 {
			return nil, errBadAccState
		}
		a.f, src = math.Float64frombits(binary.LittleEndian.Uint64(src)), src[8:]
	case numDecimal:
		a.d, src, err = decodeValueBinary(src)
	case numUnknown:
	default:
		return nil, errBadAccState
	}
	return src, err
}

// min/max and first/last over insert-only input: has byte, then the value.
func appendOptValue(dst []byte, has bool, v types.Value) []byte {
	if !has {
		return append(dst, 0)
	}
	return appendValueBinary(append(dst, 1), v)
}

func loadOptValue(src []byte) (bool, types.Value, []byte, error) {
	if len(src) == 0 {
		return false, types.Value{}, nil, errBadAccState
	}
	if src[0] == 0 {
		return false, types.Value{}, src[1:], nil
	}
	v, rest, err := decodeValueBinary(src[1:])
	return true, v, rest, err
}

func (a *minMaxAcc) appendState(dst []byte) []byte { return appendOptValue(dst, a.has, a.v) }
func (a *minMaxAcc) loadState(src []byte) (rest []byte, err error) {
	a.has, a.v, rest, err = loadOptValue(src)
	return rest, err
}
func (a *firstLastAcc) appendState(dst []byte) []byte { return appendOptValue(dst, a.has, a.v) }
func (a *firstLastAcc) loadState(src []byte) (rest []byte, err error) {
	a.has, a.v, rest, err = loadOptValue(src)
	return rest, err
}

// retractable min/max: uvarint entries, then per entry the value and its count.
func (a *minMaxRetractAcc) appendState(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.h)))
	for _, e := range a.h {
		dst = appendValueBinary(dst, e.v)
		dst = binary.AppendVarint(dst, e.n)
	}
	return dst
}

func (a *minMaxRetractAcc) loadState(src []byte) ([]byte, error) {
	n, src, err := readUvarint(src)
	if err != nil || n > uint64(len(src)) {
		return nil, errBadAccState
	}
	a.reset()
	for i := uint64(0); i < n; i++ {
		var v types.Value
		var c int64
		if v, src, err = decodeValueBinary(src); err != nil {
			return nil, err
		}
		if c, src, err = readVarint(src); err != nil {
			return nil, err
		}
		a.buf = types.AppendKey(a.buf[:0], v, a.s.argType)
		e := &mmEntry{key: string(a.buf), v: v, n: c, pos: len(a.h)}
		a.idx[e.key] = e
		a.h = append(a.h, e)
		a.up(e.pos)
	}
	return src, nil
}

// retractable first/last: the values in arrival order.
func (a *firstLastRetractAcc) appendState(dst []byte) []byte { return appendRowBinary(dst, a.vals) }
func (a *firstLastRetractAcc) loadState(src []byte) (rest []byte, err error) {
	a.vals, rest, err = decodeRowBinary(src, a.vals[:0])
	if err == nil {
		a.vals = append([]types.Value(nil), a.vals...)
	}
	return rest, err
}

// listagg: the separator, then the strings in arrival order.
func (a *listAggAcc) appendState(dst []byte) []byte {
	dst = appendBytes(dst, []byte(a.sep))
	dst = binary.AppendUvarint(dst, uint64(len(a.list)))
	for _, s := range a.list {
		dst = appendBytes(dst, []byte(s))
	}
	return dst
}

func (a *listAggAcc) loadState(src []byte) ([]byte, error) {
	sep, src, err := readBytes(src)
	if err != nil {
		return nil, err
	}
	a.sep = string(sep)
	n, src, err := readUvarint(src)
	if err != nil || n > uint64(len(src)) {
		return nil, errBadAccState
	}
	a.list = a.list[:0]
	for i := uint64(0); i < n; i++ {
		var b []byte
		if b, src, err = readBytes(src); err != nil {
			return nil, err
		}
		a.list = append(a.list, string(b))
	}
	return src, nil
}

// bool_and/or: the two counts.
func (a *boolAcc) appendState(dst []byte) []byte {
	return binary.AppendVarint(binary.AppendVarint(dst, a.trues), a.falses)
}
func (a *boolAcc) loadState(src []byte) (rest []byte, err error) {
	if a.trues, rest, err = readVarint(src); err != nil {
		return nil, err
	}
	a.falses, rest, err = readVarint(rest)
	return rest, err
}

// distinct: the inner accumulator's state, then the distinct argument keys with their counts.
func (a *distinctAcc) appendState(dst []byte) []byte {
	dst = a.inner.(accState).appendState(dst)
	dst = binary.AppendUvarint(dst, uint64(len(a.seen)))
	for k, n := range a.seen {
		dst = appendBytes(dst, []byte(k))
		dst = binary.AppendVarint(dst, *n)
	}
	return dst
}

func (a *distinctAcc) loadState(src []byte) ([]byte, error) {
	src, err := a.inner.(accState).loadState(src)
	if err != nil {
		return nil, err
	}
	n, src, err := readUvarint(src)
	if err != nil || n > uint64(len(src)) {
		return nil, errBadAccState
	}
	clear(a.seen)
	for i := uint64(0); i < n; i++ {
		var k []byte
		var c int64
		if k, src, err = readBytes(src); err != nil {
			return nil, err
		}
		if c, src, err = readVarint(src); err != nil {
			return nil, err
		}
		cnt := c
		a.seen[string(k)] = &cnt
	}
	return src, nil
}

// appendAccs appends the states of accs.
func appendAccs(dst []byte, accs []accumulator) []byte {
	for _, a := range accs {
		dst = a.(accState).appendState(dst)
	}
	return dst
}

// loadAccs loads the states of accs, in order.
func loadAccs(src []byte, accs []accumulator) ([]byte, error) {
	for i, a := range accs {
		var err error
		if src, err = a.(accState).loadState(src); err != nil {
			return nil, fmt.Errorf("aggregate %d: %w", i, err)
		}
	}
	return src, nil
}
