package planner

import (
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// frameBoundKind is the kind of one bound of an OVER frame.
type frameBoundKind int

const (
	boundUnboundedPreceding frameBoundKind = iota
	boundPreceding
	boundCurrentRow
	boundFollowing
	boundUnboundedFollowing
)

// parseFrameBound reads one bound at the start of s (the upper-cased frame text), e its offset expression
// (nil for UNBOUNDED and CURRENT ROW), and returns its kind and the rest of s.
func parseFrameBound(s string, e sql.Expr) (frameBoundKind, string) {
	for _, b := range []struct {
		text string
		kind frameBoundKind
	}{{"UNBOUNDED PRECEDING", boundUnboundedPreceding}, {"UNBOUNDED FOLLOWING", boundUnboundedFollowing}, {"CURRENT ROW", boundCurrentRow}} {
		if strings.HasPrefix(s, b.text) {
			return b.kind, s[len(b.text):]
		}
	}
	if e != nil {
		s = s[min(len(s), len(strings.ToUpper(sql.FormatExpr(e)))):]
	}
	if r, ok := strings.CutPrefix(s, " FOLLOWING"); ok {
		return boundFollowing, r
	}
	return boundPreceding, strings.TrimPrefix(s, " PRECEDING")
}

// overFrame binds an OVER window's frame: ROWS or RANGE, from UNBOUNDED PRECEDING, n PRECEDING, CURRENT ROW
// or n FOLLOWING to n PRECEDING, CURRENT ROW, n FOLLOWING or UNBOUNDED FOLLOWING (the default: RANGE
// UNBOUNDED PRECEDING to CURRENT ROW), with Calcite's checks of the bounds' order. Frames ending elsewhere
// than at the current row run in batch mode only (the physical pass refuses them in streaming mode, as
// Flink). keyType returns the first order column's name and type.
func (p *Planner) overFrame(w *sql.WindowSpec, keyType func() (string, types.Type), order []exec.SortKey) (exec.OverFrame, error) {
	var frame exec.OverFrame
	ftext := strings.ToUpper(w.Frame)
	if ftext == "" {
		frame.Unbounded = true
		return frame, nil
	}
	frame.Rows = strings.HasPrefix(ftext, "ROWS")
	rest := strings.TrimPrefix(strings.TrimPrefix(ftext, "ROWS "), "RANGE ")
	lo, hi := boundCurrentRow, boundCurrentRow
	if r, ok := strings.CutPrefix(rest, "BETWEEN "); ok {
		lo, r = parseFrameBound(r, w.FrameStart)
		hi, _ = parseFrameBound(strings.TrimPrefix(r, " AND "), w.FrameEnd)
	} else {
		lo, _ = parseFrameBound(rest, w.FrameStart)
	}
	switch {
	case lo == boundUnboundedFollowing:
		return frame, sql.Errorf(w.P, ErrValidation, "UNBOUNDED FOLLOWING cannot be specified for the lower frame boundary (%s)", w.Frame)
	case hi == boundUnboundedPreceding:
		return frame, sql.Errorf(w.P, ErrValidation, "UNBOUNDED PRECEDING cannot be specified for the upper frame boundary (%s)", w.Frame)
	case lo == boundCurrentRow && hi == boundPreceding:
		return frame, sql.Errorf(w.P, ErrValidation, "Upper frame boundary cannot be PRECEDING when lower boundary is CURRENT ROW (%s)", w.Frame)
	case lo == boundFollowing && (hi == boundPreceding || hi == boundCurrentRow):
		return frame, sql.Errorf(w.P, ErrValidation, "Upper frame boundary cannot be PRECEDING or CURRENT ROW when lower boundary is FOLLOWING (%s)", w.Frame)
	}
	frame.Ahead = hi != boundCurrentRow
	frame.EndPreceding = hi == boundPreceding
	frame.UnboundedFollowing = hi == boundUnboundedFollowing
	frame.StartFollowing = lo == boundFollowing
	switch lo {
	case boundUnboundedPreceding:
		frame.Unbounded = true
	case boundPreceding, boundFollowing:
		n, b, err := p.frameOffset(w, w.FrameStart, frame.Rows, keyType, order)
		if err != nil {
			return frame, err
		}
		frame.Preceding, frame.Bound = n, b
	}
	if hi == boundFollowing || hi == boundPreceding {
		n, b, err := p.frameOffset(w, w.FrameEnd, frame.Rows, keyType, order)
		if err != nil {
			return frame, err
		}
		frame.Following, frame.FollowBound = n, b
	}
	return frame, nil
}

// frameOffset binds a frame bound's offset e (n PRECEDING / n FOLLOWING): a constant, not negative, of a
// type the order key takes (checkFrameBound); a row count (ROWS) or rangeBound's conversion (RANGE).
func (p *Planner) frameOffset(w *sql.WindowSpec, e sql.Expr, rows bool, keyType func() (string, types.Type), order []exec.SortKey) (int64, types.Value, error) {
	if e == nil {
		return 0, types.Value{}, sql.Errorf(w.P, ErrValidation, "the OVER frame %s lacks a bound's offset", w.Frame)
	}
	x, err := p.b.expr(e, &scope{})
	if err != nil {
		return 0, types.Value{}, err
	}
	v, err := x.Eval(nil)
	if err != nil || v.IsNull() || !expr.IsConstant(x) {
		return 0, types.Value{}, sql.Errorf(e.Position(), ErrValidation, "the OVER frame's bound %s must be a constant", sql.FormatExpr(e))
	}
	if boundNegative(v) {
		return 0, types.Value{}, sql.Errorf(e.Position(), ErrValidation, "the OVER frame's bound must not be negative (got %s)", sql.FormatExpr(e))
	}
	kname, kt := keyType()
	if err := checkFrameBound(e.Position(), rows, x.Type(), kname, kt, order); err != nil {
		return 0, types.Value{}, err
	}
	if rows {
		return v.I, types.Value{}, nil
	}
	n, b := rangeBound(v, kt)
	return n, b, nil
}

// overFrameText shows an OverAggregate's frame in plans: ROWS counts; RANGE offsets in the order key's
// units (ms over a time, days over a DATE, the number otherwise).
func overFrameText(n *OverAggregate, in []Field) string {
	if n.StreamLag {
		return "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	}
	f := n.Frame
	unit := "RANGE"
	if f.Rows {
		unit = "ROWS"
	}
	offset := func(k int64, b types.Value) string {
		switch {
		case f.Rows:
			return strconv.FormatInt(k, 10)
		case b.T == types.TagDecimal:
			return types.DecimalString(b)
		case b.T == types.TagFloat:
			return strconv.FormatFloat(b.Float(), 'g', -1, 64)
		case n.Order == nil || in[n.OrderCol].Type.IsTimestamp():
			return strconv.FormatInt(k, 10) + " ms"
		case in[n.OrderCol].Type.Kind == types.Date:
			return strconv.FormatInt(k, 10) + " DAY"
		}
		return strconv.FormatInt(k, 10)
	}
	lo := "UNBOUNDED PRECEDING"
	switch {
	case f.Unbounded:
	case f.StartFollowing:
		lo = offset(f.Preceding, f.Bound) + " FOLLOWING"
	case !f.Rows && f.Ahead && f.Preceding == 0 && f.Bound.IsNull():
		lo = "CURRENT ROW"
	default:
		lo = offset(f.Preceding, f.Bound) + " PRECEDING"
	}
	hi := "CURRENT ROW"
	switch {
	case f.EndPreceding:
		hi = offset(f.Following, f.FollowBound) + " PRECEDING"
	case f.UnboundedFollowing:
		hi = "UNBOUNDED FOLLOWING"
	case f.Ahead && f.Rows || f.Ahead && (f.Following != 0 || !f.FollowBound.IsNull()):
		hi = offset(f.Following, f.FollowBound) + " FOLLOWING"
	}
	return unit + " BETWEEN " + lo + " AND " + hi
}
