package exec

// Rows that arrive behind the watermark in an interval join, as Flink's TimeIntervalJoin takes them. With w
// the join's watermark (the minimum over both inputs), a row of side s with time t:
//
//   - joins the other side's stored rows only when the upper bound of the other side's times it can join
//     (t - Lower on the left, t + Upper on the right) is above the other side's expiration time w - rel - 1
//     (rel: Upper for the right side's rows, -Lower for the left's; a row of the other side with a time up
//     to it has expired), and then only the rows not expired at w: the window of times it probes starts at
//     w - rel at the earliest. Prune drops expired rows as w passes them, so this changes what a row joins
//     only once an input has ended (prune stops then) — Flink's timers keep cleaning;
//   - is stored only when w is below that upper bound (a future row of the other side, at or above w, may
//     still match it);
//   - otherwise, on an outer side, is emitted NULL-padded right away when it matched nothing (it is never
//     stored, so prune would never pad it).
//
// Before the first watermark every row is joined and stored. A row with a NULL time is neither late nor
// ever expires (it is stored and joined as before). Flink's cleanup is lazy (a key's timer fires up to
// minCleanUpInterval after its rows expired), and a late row that passes the first test joins the expired
// rows still in its cache; here an expired row is gone at the watermark that expires it.

// lateWindow narrows the probe window [lo, hi] of a row of side s with time t to the other side's rows not
// expired at the join's watermark, and says whether the row is to be stored.
func (j *joinOp) lateWindow(s int, t, lo, hi int64) (int64, int64, bool) {
	w := j.lastWM
	if j.floorOn {
		w = max(w, j.floorWM) // the key group's floor (join_floor.go)
	}
	if w == minWatermark {
		return lo, hi, true
	}
	rel := j.cfg.Interval.Upper // the other side is the right one: its rows expire at time + Upper
	if s == 1 {
		rel = -j.cfg.Interval.Lower
	}
	return max(lo, satAdd(w, -rel)), hi, j.timeExpiry(s, t) > w
}
