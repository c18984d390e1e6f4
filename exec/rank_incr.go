package exec

import (
	"bytes"
	"math"
	"sort"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The incremental path of a streaming ROW_NUMBER Rank (Top-N and deduplication; RANK and DENSE_RANK, whose
// numbers depend on ties, and batch Ranks take apply's general path). A row number is a position, so one
// change to a partition — a row inserted or retracted at position i — leaves the rows before i and their
// numbers as they were: only positions i .. Limit-1 can change, and only two rows can enter or leave the
// top (the inserted row and the one it pushes past the limit; the retracted row and the one that moves up
// into the top). An input row therefore costs:
//   - numbered past the limit (most rows of a full insert-only partition): one comparison with the entry
//     at Limit-1, nothing built or emitted (it used to copy the partition's top entries first);
//   - entering or leaving at position i: the entries of positions i .. Limit-1 (the rows that move, which
//     a row-numbered output must emit anyway), compared against the two that came or went instead of
//     searching the other top for each (diff was quadratic in Limit without the row number).
//
// The output is the general path's exactly (diff over the changed suffixes with the same order of -D/+I):
// TestRankIncrementalMatchesReference compares both with a naive Rank over random inserts and retractions.

// incrementalRank reports whether a Rank of cfg takes the incremental path.
func incrementalRank(cfg RankConfig) bool {
	return !cfg.Batch && (cfg.Func == "" || cfg.Func == "ROW_NUMBER")
}

// entAt returns the entry at position k of p.
func (p *rankPart) entAt(k int64) rEnt {
	if p.big == nil {
		return p.ents[k]
	}
	e, _ := p.big.at(k)
	return e
}

// appendEnts appends the entries of positions from .. from+n-1 of p (fewer when p ends before).
func (p *rankPart) appendEnts(dst []rEnt, from, n int64) []rEnt {
	if n <= 0 {
		return dst
	}
	if p.big == nil {
		to := min(from+n, int64(len(p.ents)))
		if from >= to {
			return dst
		}
		return append(dst, p.ents[from:to]...)
	}
	return p.big.appendEnts(dst, from, n)
}

// insertAt puts e into p in order and returns its position.
func (r *rankOp) insertAt(p *rankPart, e rEnt) int64 {
	if p.big != nil {
		return p.big.insert(&r.st, e)
	}
	i := sort.Search(len(p.ents), func(i int) bool { return bytes.Compare(p.ents[i].sk, e.sk) > 0 })
	p.ents = append(p.ents, rEnt{})
	copy(p.ents[i+1:], p.ents[i:])
	p.ents[i] = e
	return int64(i)
}

// removeAt removes from p the earliest row with sort key order whose row is the same as row, and returns it
// (its row still readable until the push ends) and its former position.
func (r *rankOp) removeAt(p *rankPart, order, row []byte) (rEnt, int64, bool) {
	if p.big != nil {
		return p.big.removeEqual(&r.st, order, func(b []byte) bool { return r.sameRow(b, row) })
	}
	i := sort.Search(len(p.ents), func(i int) bool { return bytes.Compare(p.ents[i].sk, order) >= 0 })
	for ; i < len(p.ents) && bytes.HasPrefix(p.ents[i].sk, order); i++ {
		if r.sameRow(r.st.row(&p.ents[i]), row) {
			e := p.ents[i] // with its reference: the row stays in the arena until the push's tidy
			r.st.dropRow(&p.ents[i])
			p.ents = append(p.ents[:i], p.ents[i+1:]...)
			return e, int64(i), true
		}
	}
	return rEnt{}, 0, false
}

// applyRowNumber is apply's incremental path (above) for partition p, loaded (or new: slot -1).
func (r *rankOp) applyRowNumber(insert bool, key []byte, h uint64, nb []byte, vals []types.Value, cb *vec.Batch, i int, p *rankPart) {
	lim := r.cfg.Limit
	if lim < 0 {
		lim = math.MaxInt64
	}
	c0 := int64(p.count())
	ol := len(nb)
	r.newSeq, r.newRow = 0, nil
	var pos int64
	r.gone, r.came = 0, 0
	oldTop, newTop := r.oldTop[:0], r.newTop[:0]
	if insert {
		r.seq++
		nb = appendSeq(nb, r.seq)
		sl := len(nb)
		if r.trim && c0 >= lim {
			if last := p.entAt(lim - 1); bytes.Compare(nb, last.sk) > 0 {
				r.nbuf = nb
				return // numbered past the limit: nothing changes
			}
		}
		if vals == nil {
			vals = r.colRowAt(cb, i)
		}
		nb = appendRowBinary(nb, vals)
		r.nbuf = nb
		r.newSeq, r.newRow = r.seq, vals
		pos = r.insertAt(p, rEnt{sk: nb[:sl:sl], row: nb[sl:], ol: ol})
		if pos < lim {
			r.came = r.seq
			// old positions pos .. are the entries after the new one
			oldTop = p.appendEnts(oldTop, pos+1, min(c0, lim)-pos)
			newTop = p.appendEnts(newTop, pos, min(c0+1, lim)-pos)
			if c0 >= lim {
				r.gone = oldTop[len(oldTop)-1].seq()
			}
		}
	} else {
		if vals == nil {
			vals = r.colRowAt(cb, i)
		}
		nb = appendRowBinary(nb, vals)
		r.nbuf = nb
		gone, at, ok := r.removeAt(p, nb[:ol], nb[ol:])
		if !ok {
			return
		}
		p.touched = r.ttl.now
		pos = at
		if pos < lim {
			r.gone = gone.seq()
			oldTop = append(oldTop, gone)
			oldTop = p.appendEnts(oldTop, pos, min(c0, lim)-pos-1)
			newTop = p.appendEnts(newTop, pos, min(c0-1, lim)-pos)
			if c0 > lim {
				r.came = newTop[len(newTop)-1].seq()
			}
		}
	}
	r.oldTop, r.newTop = oldTop, newTop
	if len(oldTop) > 0 || len(newTop) > 0 {
		r.oldNum, r.newNum = appendNums(r.oldNum[:0], pos, len(oldTop)), appendNums(r.newNum[:0], pos, len(newTop))
		n := len(r.ob.Rows)
		r.known = true
		r.diff(oldTop, r.oldNum, newTop, r.newNum)
		r.known = false
		if len(r.ob.Rows) != n {
			p.touched = r.ttl.now
		}
	}
	if r.trim {
		truncatePart(&r.st, p, int(min(int64(p.count()), lim)))
	}
	r.st.save(key, h, p)
	r.newSeq, r.newRow = 0, nil
}

// appendNums appends the row numbers of n rows from position pos.
func appendNums(dst []int64, pos int64, n int) []int64 {
	for k := range n {
		dst = append(dst, pos+int64(k)+1)
	}
	return dst
}

// inTop reports whether the row with arrival number seq is among rows (a top of diff); on the incremental
// path the tops differ only by the row that came (in the new top only) and the one that went (in the old
// only): missing is the one of the two that rows lacks.
func (r *rankOp) inTop(rows []rEnt, seq, missing uint64) bool {
	if r.known {
		return seq != missing
	}
	return containsSeq(rows, seq)
}
