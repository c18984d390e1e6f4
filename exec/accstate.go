package exec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sluicesql/sluice/types"
)

// The state encodings of the accumulators (appendState / loadState). No version byte or field names: the
// value that holds them (a group, a partition) carries the version. loadState is called on a fresh or reset
// accumulator of the same aggSpec and returns the bytes after its state.
//
//	count              varint n
//	sum/sum0/avg       class byte; varint count of values; by class: int varint sum, float 8 bytes,
//	                   decimal varint scale + the sum value (NULL before the first value)
//	min/max            has byte [+ value]
//	min/max retract    uvarint entries, each value + varint multiplicity
//	first/last         has byte [+ value]
//	first/last retract uvarint n + n values
//	listagg            uvarint n + n strings, separator string
//	bool_and/bool_or   varint trues, varint falses
//	distinct           uvarint n, each key string + varint multiplicity; then the inner accumulator

func (a *countAcc) appendState(dst []byte) []byte { return binary.AppendVarint(dst, a.n) }
func (a *countAcc) loadState(src []byte) ([]byte, error) {
	d := stateDec{b: src}
	a.n = d.varint()
	return d.b, d.err
}

func (a *sumAcc) appendState(dst []byte) []byte {
	dst = append(dst, byte(a.class))
	dst = binary.AppendVarint(dst, a.cnt)
	switch a.class {
	case numInt:
		dst = binary.AppendVarint(dst, a.i)
	case numFloat:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.f))
	case numDecimal:
		dst = binary.AppendVarint(dst, int64(a.scale))
		dst = appendValue(dst, a.d)
	}
	return dst
}

func (a *sumAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	a.class = numClass(d.byte())
	a.cnt = d.varint()
	switch a.class {
	case numUnknown:
	case numInt:
		a.i = d.varint()
	case numFloat:
		a.f = d.float()
	case numDecimal:
		a.scale = int(d.varint())
		a.d = d.value()
		if d.err == nil && a.d.T != types.TagNull && a.d.T != types.TagDecimal {
			return nil, fmt.Errorf("%s sum is a value of tag %d, not a decimal", a.s.fn, a.d.T)
		}
	default:
		return nil, fmt.Errorf("%s: unknown number class %d", a.s.fn, a.class)
	}
	if d.err == nil && a.s.class != numUnknown && a.class != numUnknown && a.class != a.s.class {
		return nil, fmt.Errorf("%s adds as class %d in the state, the operator as class %d", a.s.fn, a.class, a.s.class)
	}
	return d.b, d.err
}

func (a *minMaxAcc) appendState(dst []byte) []byte {
	dst = appendBool(dst, a.has)
	if a.has {
		dst = appendValue(dst, a.v)
	}
	return dst
}

func (a *minMaxAcc) loadState(src []byte) ([]byte, error) {
	d := stateDec{b: src}
	a.has = d.bool()
	a.v = types.Value{}
	if a.has {
		a.v = d.value()
	}
	return d.b, d.err
}

func (a *minMaxRetractAcc) appendState(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.h)))
	for _, e := range a.h {
		dst = appendValue(dst, e.v)
		dst = binary.AppendVarint(dst, e.n)
	}
	return dst
}

func (a *minMaxRetractAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	n := d.count()
	for range n {
		v := d.value()
		c := d.varint()
		if d.err != nil {
			break
		}
		a.buf = types.AppendKey(a.buf[:0], v, a.s.argType)
		if a.idx[string(a.buf)] != nil {
			return nil, fmt.Errorf("%s: value %s appears twice in the multiset", a.s.fn, formatStateValue(v))
		}
		e := &mmEntry{key: string(a.buf), v: v, n: c, pos: len(a.h)}
		a.idx[e.key] = e
		a.h = append(a.h, e)
		a.up(e.pos)
	}
	return d.b, d.err
}

func (a *firstLastAcc) appendState(dst []byte) []byte {
	dst = appendBool(dst, a.has)
	if a.has {
		dst = appendValue(dst, a.v)
	}
	return dst
}

func (a *firstLastAcc) loadState(src []byte) ([]byte, error) {
	d := stateDec{b: src}
	a.has = d.bool()
	a.v = types.Value{}
	if a.has {
		a.v = d.value()
	}
	return d.b, d.err
}

func (a *firstLastRetractAcc) appendState(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.vals)))
	for _, v := range a.vals {
		dst = appendValue(dst, v)
	}
	return dst
}

func (a *firstLastRetractAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	n := d.count()
	for range n {
		a.vals = append(a.vals, d.value())
	}
	return d.b, d.err
}

func (a *listAggAcc) appendState(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.list)))
	for _, s := range a.list {
		dst = appendString(dst, s)
	}
	return appendString(dst, a.sep)
}

func (a *listAggAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	n := d.count()
	for range n {
		a.list = append(a.list, d.str())
	}
	a.sep = d.str()
	return d.b, d.err
}

func (a *boolAcc) appendState(dst []byte) []byte {
	dst = binary.AppendVarint(dst, a.trues)
	return binary.AppendVarint(dst, a.falses)
}

func (a *boolAcc) loadState(src []byte) ([]byte, error) {
	d := stateDec{b: src}
	a.trues = d.varint()
	a.falses = d.varint()
	return d.b, d.err
}

func (a *distinctAcc) appendState(dst []byte) []byte {
	put := func(k []byte, n int64) {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendVarint(dst, n)
	}
	if a.sh != nil { // this aggregate's view of the shared set, in the same format (distinct_shared.go)
		dst = binary.AppendUvarint(dst, uint64(a.sh.len(a.v)))
		a.sh.each(a.v, put)
	} else {
		dst = binary.AppendUvarint(dst, uint64(a.seen.len()))
		a.seen.each(put)
	}
	return a.inner.appendState(dst)
}

func (a *distinctAcc) loadState(src []byte) ([]byte, error) {
	if a.sh != nil {
		a.sh.reset(a.v)
	} else {
		a.seen.reset()
	}
	d := stateDec{b: src}
	n := d.count()
	for range n {
		k := d.bytes()
		c := d.varint()
		if d.err != nil {
			break
		}
		if c <= 0 {
			return nil, fmt.Errorf("%s DISTINCT: value %x has multiplicity %d", a.s.fn, k, c)
		}
		if a.sh != nil {
			if a.sh.count(k, a.v) != 0 {
				return nil, fmt.Errorf("%s DISTINCT: value %x appears twice in the set", a.s.fn, k)
			}
			a.sh.add(k, a.v, c)
		} else if a.seen.add(k, c) != c {
			return nil, fmt.Errorf("%s DISTINCT: value %x appears twice in the set", a.s.fn, k)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return a.inner.loadState(d.b)
}

// formatStateValue prints a value for a restore error.
func formatStateValue(v types.Value) string {
	return string(types.AppendPrint(nil, v, types.Type{}, nil))
}

// bytes reads a uvarint-length-prefixed byte string (appendString's encoding) without copying it.
func (d *stateDec) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}
