package exec

import "math"

// roundFloatFast is roundFloat without formatting the shortest digits, for 0 <= n <= 22 and |f|·10^n <
// 10^13; ok is false where it cannot decide (the caller then formats the digits).
//
// Let d be the shortest decimal that rounds to f (the digits the row path rounds) and p = 10^n (exact). The
// result is q/p (both exact, so the division rounds correctly, as the row path's decimal → float64) for
// the integer q that d·p rounds to. A candidate q is taken from f·p and checked against the boundaries of
// its interval, lo and hi (for ROUND the midpoints (q∓½)/p, for TRUNCATE q/p and (q+1)/p), each computed
// as the nearest float64 (one correctly rounded division of exact operands). Rounding to float64 is
// monotonic and d rounds to f, so f > fl(lo) gives d >= lo and f < fl(hi) gives d < hi. When f equals
// fl(lo) or fl(hi), that boundary has at most 15 significant digits (q < 10^13), and a decimal of at most
// 15 digits is the shortest decimal of its float64 (15-digit decimals survive the round trip, and the
// shortest has no more digits), so d is the boundary itself.
func roundFloatFast(f float64, n int, halfUp bool) (float64, bool) {
	if n < 0 || n >= len(pow10f) {
		return 0, false
	}
	p := pow10f[n]
	a := math.Abs(f)
	t := a * p
	if !(t < 1e13) { // NaN and infinities too
		return 0, false
	}
	var q float64
	if halfUp {
		q = math.Floor(t + 0.5) // t+0.5 is exact below 2^52
		lo, hi := (2*q-1)/(2*p), (2*q+1)/(2*p)
		switch {
		case a > lo && a < hi, a == lo: // a tie at lo rounds up to q
		case a == hi:
			q++
		default:
			return 0, false
		}
	} else {
		q = math.Floor(t)
		lo, hi := q/p, (q+1)/p
		switch {
		case a >= lo && a < hi:
		case a == hi:
			q++
		default:
			return 0, false
		}
	}
	if q == 0 {
		return 0, true // the decimal zero has no sign
	}
	r := q / p
	if f < 0 {
		r = -r
	}
	return r, true
}
