package exec

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Routing a batch through an exchange: the owners of all rows are computed in one pass over the batch (the
// key columns hashed without encoding the key into a buffer for the common key types), then the rows are
// copied into their owners' queue items. The hash is state.Hash of the key's encoding (appendGroupKey), so a
// row goes to the subtask that owns its state key (restore routes by that key); TestRouteHashMatchesState
// checks the two agree.

// FNV-1a and murmur3's fmix64, as state.Hash computes them, fed one byte at a time.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

func fnvFinish(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// routeKind is how one key column hashes without its encoding.
type routeKind uint8

const (
	routeSlow   routeKind = iota // encode the key (appendGroupKey)
	routeInt                     // BIGINT, INT, SMALLINT, TINYINT, DATE, TIME: 8 bytes big-endian, sign flipped
	routeString                  // CHAR, VARCHAR, BINARY, VARBINARY: escaped bytes, terminated
)

// routeKinds returns the route kind of every key column, or nil when some column needs its encoding.
func routeKinds(ts []types.Type) []routeKind {
	ks := make([]routeKind, len(ts))
	for i, t := range ts {
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time:
			ks[i] = routeInt
		case types.Char, types.VarChar, types.Binary, types.VarBinary:
			ks[i] = routeString
		default:
			return nil
		}
	}
	return ks
}

// hashInt and hashStr feed one non-NULL key value of route kind routeInt and routeString (its encoding).
func hashInt(h uint64, i int64) uint64 {
	h = fnvByte(h, 0x01)
	u := uint64(i) ^ (1 << 63)
	for sh := 56; sh >= 0; sh -= 8 {
		h = fnvByte(h, byte(u>>sh))
	}
	return h
}

func hashStr(h uint64, str string) uint64 {
	h = fnvByte(h, 0x01)
	for j := 0; j < len(str); j++ {
		h = fnvByte(h, str[j])
		if str[j] == 0 {
			h = fnvByte(h, 0xFF)
		}
	}
	return fnvByte(fnvByte(h, 0x00), 0x01)
}

// fastHash returns state.Hash of the key encoding of vals' key columns, and false when a value is not of
// the form its column's route kind hashes (a NULL in a NullKey side, a value of another tag).
func (s *ExchangeSender) fastHash(vals []types.Value) (uint64, bool) {
	h := uint64(fnvOffset)
	for i, c := range s.sd.Keys {
		v := &vals[c]
		if v.T == types.TagNull {
			if s.sd.NullKey {
				return 0, false
			}
			h = fnvByte(h, 0x00)
			continue
		}
		switch s.kinds[i] {
		case routeInt:
			if v.T != types.TagInt && v.T != types.TagDate && v.T != types.TagTime {
				return 0, false
			}
			h = hashInt(h, v.I)
		case routeString:
			if v.T != types.TagString && v.T != types.TagBytes {
				return 0, false
			}
			h = hashStr(h, v.S)
		default:
			return 0, false
		}
	}
	return fnvFinish(h), true
}

// colsRoutable reports whether every key column of b has the form of its route kind (colHash applies).
func (s *ExchangeSender) colsRoutable(b *vec.Batch) bool {
	if s.kinds == nil {
		return false
	}
	for i, c := range s.sd.Keys {
		col := b.Cols[c]
		switch s.kinds[i] {
		case routeInt:
			if col.Kind != vec.Int64 || col.Tag != types.TagInt && col.Tag != types.TagDate && col.Tag != types.TagTime {
				return false
			}
		case routeString:
			if col.Kind != vec.Bytes || col.Tag != types.TagString && col.Tag != types.TagBytes {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// colHash is fastHash of physical row i of b, read from its key columns (colsRoutable).
func (s *ExchangeSender) colHash(b *vec.Batch, i int) (uint64, bool) {
	h := uint64(fnvOffset)
	for k, c := range s.sd.Keys {
		col := b.Cols[c]
		if col.Nulls.Get(i) {
			if s.sd.NullKey {
				return 0, false
			}
			h = fnvByte(h, 0x00)
			continue
		}
		if s.kinds[k] == routeInt {
			h = hashInt(h, col.I64[i])
		} else {
			h = hashStr(h, col.Str(i))
		}
	}
	return fnvFinish(h), true
}

// ownerOf is the subtask owning the key whose state.Hash is h: Subtask of its key group, read from a table
// built once per sender, and the key group taken with a mask when the maximum parallelism is a power of two
// (as Flink's default of 128 is): no integer division per row on the fast paths.
func (s *ExchangeSender) ownerOf(h uint64) int {
	if s.kgSub == nil {
		s.ownerTable()
	}
	if s.kgMask != 0 {
		return int(s.kgSub[h&s.kgMask])
	}
	if s.kgSub != nil {
		return int(s.kgSub[h%uint64(len(s.kgSub))])
	}
	return Subtask(int(h%uint64(s.x.maxPar)), s.x.maxPar, len(s.x.subs))
}

// ownerTable builds ownerOf's table, unless there are more than 256 subtasks.
func (s *ExchangeSender) ownerTable() {
	maxPar, n := s.x.maxPar, len(s.x.subs)
	if n > 256 || maxPar < 1 {
		return
	}
	s.kgSub = make([]uint8, maxPar)
	for g := range s.kgSub {
		s.kgSub[g] = uint8(Subtask(g, maxPar, n))
	}
	if maxPar&(maxPar-1) == 0 {
		s.kgMask = uint64(maxPar - 1)
	}
}

// dealt returns the subtask of the next row when the side deals rows round robin (Rebalance).
func (s *ExchangeSender) dealt() int {
	k := s.next
	if s.next++; s.next == len(s.x.subs) {
		s.next = 0
	}
	return k
}

// route sets s.owners[i] to the subtask owning row i of b.
func (s *ExchangeSender) route(b *changelog.Batch) {
	if cap(s.owners) < len(b.Rows) {
		s.owners = make([]int32, len(b.Rows), 2*len(b.Rows))
	}
	s.owners = s.owners[:len(b.Rows)]
	if s.sd.Rebalance {
		for i := range b.Rows {
			s.owners[i] = int32(s.dealt())
		}
		return
	}
	for i := range b.Rows {
		vals := b.Rows[i].Vals
		if s.kinds != nil {
			if h, ok := s.fastHash(vals); ok {
				s.owners[i] = int32(s.ownerOf(h))
				continue
			}
		}
		s.owners[i] = int32(s.owner(vals))
	}
}

// owner returns the subtask owning vals by its encoded key.
func (s *ExchangeSender) owner(vals []types.Value) int {
	return Subtask(s.keyGroup(vals), s.x.maxPar, len(s.x.subs))
}

// keyGroup returns the key group of vals by its encoded key.
func (s *ExchangeSender) keyGroup(vals []types.Value) int {
	sd := s.sd
	s.keyBuf = s.keyBuf[:0]
	if sd.NullKey {
		for _, c := range sd.Keys {
			if vals[c].IsNull() {
				s.keyBuf = append(s.keyBuf, nullJoinKey...)
				break
			}
		}
	}
	if len(s.keyBuf) == 0 {
		s.keyBuf = appendGroupKey(s.keyBuf, vals, sd.Keys, sd.KeyTypes)
	}
	return state.KeyGroup(s.keyBuf, s.x.maxPar)
}

// PushColumns routes a columnar batch. When the subtasks' operators take columns (vec.Accepts of their
// input), the rows each subtask owns are gathered, a column at a time, into that subtask's pending columnar
// batch (vec.Gather: typed columns, strings copied into its arena, recycled with the queue item), which the
// subtask hands to the operator's PushColumns. Otherwise each selected row's values are written once, from
// the columns, into the owning subtask's queue item; string values then share b's byte arenas, which b then
// does not reuse (vec.Col.Value).
func (s *ExchangeSender) PushColumns(b *vec.Batch) error {
	if s.cols {
		return s.gather(b)
	}
	w := len(b.Cols)
	if cap(s.row) < w {
		s.row = make([]types.Value, w)
	}
	row := s.row[:w]
	for r, n := 0, b.Len(); r < n; r++ {
		i := b.Row(r)
		for j, c := range b.Cols {
			row[j] = c.Value(i)
		}
		k := -1
		if s.sd.Rebalance {
			k = s.dealt()
		} else if s.kinds != nil {
			if h, ok := s.fastHash(row); ok {
				k = s.ownerOf(h)
			}
		}
		if k < 0 {
			k = s.owner(row)
		}
		if err := s.add(k, b.Kind(i), row); err != nil {
			return err
		}
	}
	return nil
}

// gather routes b's selected rows into the subtasks' pending columnar batches (PushColumns).
func (s *ExchangeSender) gather(b *vec.Batch) error {
	n := len(s.x.subs)
	if len(s.idx) != n {
		s.idx = make([][]int32, n)
	}
	for k := range s.idx {
		s.idx[k] = s.idx[k][:0]
	}
	if cap(s.row) < len(b.Cols) {
		s.row = make([]types.Value, len(b.Cols))
	}
	fast := s.colsRoutable(b)
	for r, nr := 0, b.Len(); r < nr; r++ {
		i := b.Row(r)
		k := -1
		if s.sd.Rebalance {
			k = s.dealt()
		} else if fast {
			if h, ok := s.colHash(b, i); ok {
				k = s.ownerOf(h)
			}
		}
		if k < 0 {
			// the key encoded from its values (only the key columns are read)
			row := s.row[:len(b.Cols)]
			for _, c := range s.sd.Keys {
				row[c] = keyValue(b.Cols[c], i) // groupagg_twophase_vec.go
			}
			k = s.owner(row)
		}
		s.idx[k] = append(s.idx[k], int32(i))
	}
	for k, rows := range s.idx {
		if len(rows) == 0 {
			continue
		}
		p := s.pend[k]
		if p != nil && (len(p.batch.Rows) > 0 || !p.cols.Fits(b)) {
			// rows collected before, or columns of another shape: they go first (order per channel)
			if err := s.sendRows(k); err != nil {
				return err
			}
			p = nil
		}
		if p == nil {
			p = s.x.batch()
			s.pend[k] = p
		}
		p.cols.Append(b, rows)
		if p.cols.N >= xBatchRows {
			if err := s.sendRows(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// AcceptsColumns: a sender takes columnar batches natively.
func (s *ExchangeSender) AcceptsColumns() bool { return true }

var _ vec.Output = (*ExchangeSender)(nil)
