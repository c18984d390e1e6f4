package exec

import (
	"math"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Casts that move between TIMESTAMP_LTZ instants and wall clocks in the session zone (the zone the row
// path's CAST was bound with, expr.SessionZone): TIMESTAMP_LTZ → TIMESTAMP/DATE/TIME and TIMESTAMP/DATE →
// TIMESTAMP_LTZ, and casts of a TIMESTAMP or TIMESTAMP_LTZ to a lower precision (truncated as
// types.TruncateTimestamp). The zone's UTC offset is looked up once per span of constant offset
// (zoneOffsets), so a batch of nearby instants costs one lookup; a wall clock skipped or repeated by a DST
// transition resolves as types.TimestampFromLocal (java's LocalDateTime.atZone).

// zoneOffsets answers a zone's UTC offset at an instant, caching the span in which the last answer holds.
type zoneOffsets struct {
	loc    *time.Location
	utc    bool
	lo, hi int64 // unix seconds [lo, hi) in which off holds
	off    int64 // seconds east of UTC
}

func newZoneOffsets(loc *time.Location) *zoneOffsets {
	if loc == nil {
		loc = time.UTC
	}
	return &zoneOffsets{loc: loc, utc: loc == time.UTC, lo: 1, hi: 0}
}

// at is the offset (seconds) in force at unix second sec, as time.Time.In(loc).Zone() reports it.
func (z *zoneOffsets) at(sec int64) int64 {
	if sec >= z.lo && sec < z.hi {
		return z.off
	}
	t := time.Unix(sec, 0).In(z.loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	z.lo, z.hi, z.off = math.MinInt64, math.MaxInt64, int64(off)
	if !start.IsZero() {
		z.lo = start.Unix()
	}
	if !end.IsZero() {
		z.hi = end.Unix()
	}
	return z.off
}

// toLocal is types.TimestampToLocal's millis: the wall clock the instant ms shows in the zone.
func (z *zoneOffsets) toLocal(ms int64) int64 {
	if z.utc {
		return ms
	}
	return ms + z.at(floorDiv(ms, 1000))*1000
}

// fromLocal is types.TimestampFromLocal's millis: the instant of wall clock ms in the zone (a repeated wall
// clock takes the earlier instant, one in a gap is shifted forward by the gap).
func (z *zoneOffsets) fromLocal(ms int64) int64 {
	if z.utc {
		return ms
	}
	wall := floorDiv(ms, 1000)
	o0 := z.at(wall)
	before, after := z.at(wall-14*3600-o0), z.at(wall+14*3600-o0)
	best, found := int64(0), false
	for _, o := range [2]int64{before, after} {
		if z.at(wall-o) == o && (!found || o > best) { // the larger offset is the earlier instant
			best, found = o, true
		}
	}
	if !found {
		if o := z.at(wall - o0); z.at(wall-o) == o {
			best, found = o, true
		}
	}
	if !found {
		best = before
	}
	return ms - best*1000
}

// zoneOp is what a vzoneCast computes.
type zoneOp uint8

const (
	zoneTrunc    zoneOp = iota // TIMESTAMP(_LTZ) to a lower precision of the same kind
	zoneToLocal                // TIMESTAMP_LTZ → TIMESTAMP
	zoneFromWall               // TIMESTAMP → TIMESTAMP_LTZ
	zoneFromDate               // DATE → TIMESTAMP_LTZ
	zoneToDate                 // TIMESTAMP_LTZ → DATE
	zoneToTime                 // TIMESTAMP_LTZ → TIME
)

// compileZoneCast compiles the casts above; nil for the others. loc is the cast's session zone.
func (c *vcompiler) compileZoneCast(x expr.Expr, to types.Type, loc *time.Location) vexpr {
	from := x.Type()
	var op zoneOp
	switch {
	case from.Kind == to.Kind && from.IsTimestamp() && to.Precision < from.Precision:
		op = zoneTrunc
	case from.Kind == types.TimestampLTZ && to.Kind == types.Timestamp:
		op = zoneToLocal
	case from.Kind == types.Timestamp && to.Kind == types.TimestampLTZ:
		op = zoneFromWall
	case from.Kind == types.Date && to.Kind == types.TimestampLTZ:
		op = zoneFromDate
	case from.Kind == types.TimestampLTZ && to.Kind == types.Date:
		op = zoneToDate
	case from.Kind == types.TimestampLTZ && to.Kind == types.Time:
		op = zoneToTime
	case from.Kind == types.TimestampLTZ && (to.Kind == types.VarChar || to.Kind == types.Char):
		if k := c.compile(x); k != nil {
			return &vtoString{x: k, from: from, to: to, zone: newZoneOffsets(loc)}
		}
		return nil
	default:
		return nil
	}
	k := c.compile(x)
	if k == nil {
		return nil
	}
	return &vzoneCast{x: k, op: op, prec: max(to.Precision, 0), zone: newZoneOffsets(loc)}
}

// vzoneCast is one of the casts of compileZoneCast, as types.Cast with the session zone.
type vzoneCast struct {
	x     vexpr
	op    zoneOp
	prec  int // the target's precision (TIMESTAMP, TIMESTAMP_LTZ, TIME)
	zone  *zoneOffsets
	out   vec.Col
	nanos []int32
}

func (k *vzoneCast) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	tag := types.TagTimestamp
	switch k.op {
	case zoneToDate:
		tag = types.TagDate
	case zoneToTime:
		tag = types.TagTime
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: tag, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out := k.out.I64[:n]
	var nanos []int32
	if x.Nanos != nil && tag == types.TagTimestamp && k.prec >= 3 {
		if cap(k.nanos) < n {
			k.nanos = make([]int32, n)
		}
		nanos = k.nanos[:n]
		k.out.Nanos = nanos
	}
	var nanoUnit int32 = 1
	var msUnit int64 = 1
	if k.prec < 9 && k.prec >= 3 {
		nanoUnit = int32(decPow10[9-k.prec])
	} else if k.prec < 3 {
		msUnit = decPow10[3-k.prec]
	}
	timeUnit := decPow10[9-min(k.prec, 9)]
	z := k.zone
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			out[i] = 0
			if nanos != nil {
				nanos[i] = 0
			}
			continue
		}
		ms := x.I64[i]
		switch k.op {
		case zoneToLocal:
			ms = z.toLocal(ms)
		case zoneFromWall:
			ms = z.fromLocal(ms)
		case zoneFromDate:
			ms = z.fromLocal(ms * msPerDay)
		case zoneToDate:
			out[i] = floorDiv(z.toLocal(ms), msPerDay)
			continue
		case zoneToTime:
			m := z.toLocal(ms) % msPerDay
			if m < 0 {
				m += msPerDay
			}
			t := m*1_000_000 + int64(nanoAt(x, i))
			out[i] = t - t%timeUnit
			continue
		}
		if msUnit > 1 { // below millisecond precision: floored to the unit
			r := ms % msUnit
			if r < 0 {
				r += msUnit
			}
			ms -= r
		}
		out[i] = ms
		if nanos != nil {
			nv := x.Nanos[i]
			nanos[i] = nv - nv%nanoUnit
		}
	}
	return &k.out, nil
}

// compileExtract compiles EXTRACT(unit FROM x) and the date-part functions (YEAR(x), HOUR(x), ...) of a
// DATE, TIME, TIMESTAMP or TIMESTAMP_LTZ (the wall clock in the call's session zone): each row's wall clock
// goes through the row path's own field function (expr.ExtractField).
func (c *vcompiler) compileExtract(call expr.Expr, unit string, x expr.Expr) vexpr {
	k := &vextract{unit: unit, kind: x.Type().Kind}
	if k.kind == types.TimestampLTZ {
		loc, ok := expr.SessionZone(call)
		if !ok {
			return nil
		}
		k.zone = newZoneOffsets(loc)
	}
	if k.x = c.compile(x); k.x == nil {
		return nil
	}
	return k
}

// vextract is EXTRACT(unit FROM x) as a BIGINT.
type vextract struct {
	x    vexpr
	unit string
	kind types.Kind
	zone *zoneOffsets
	out  vec.Col
}

func (k *vextract) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out := k.out.I64[:n]
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			out[i] = 0
			continue
		}
		v := x.I64[i]
		var wall types.Value
		switch k.kind {
		case types.Date:
			wall = types.TimestampValue(v*msPerDay, 0)
		case types.Time:
			wall = types.TimestampValue(v/1_000_000, int32(v%1_000_000))
		case types.TimestampLTZ:
			wall = types.TimestampValue(k.zone.toLocal(v), nanoAt(x, i))
		default:
			wall = types.TimestampValue(v, nanoAt(x, i))
		}
		out[i], _ = expr.ExtractField(k.unit, wall)
	}
	return &k.out, nil
}
