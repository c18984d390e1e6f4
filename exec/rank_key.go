package exec

import (
	"bytes"
	"encoding/binary"

	"github.com/sluicesql/sluice/types"
)

// Partition keys of a streaming Rank in memory: when every partition column is an integer or string type,
// the key table holds a compact key — per column 0 for NULL, 1 and the zigzag varint of an integer, or 3,
// the uvarint length and the bytes of a string (two BIGINT ids below 2^20 take 8 bytes instead of 18 in the
// grouping form; a string takes its length + 2 or 3 bytes, unescaped). Snapshots keep the grouping form
// (appendGroupKey), rebuilt from a partition's first row, so the snapshot format does not change; batch
// keeps the grouping form because it emits partitions in the order of their keys.

// compactPartKeys reports whether a Rank keeps compact partition keys.
func compactPartKeys(cfg RankConfig, ptypes []types.Type) bool {
	if cfg.Batch || len(ptypes) == 0 {
		return false
	}
	for _, t := range ptypes {
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Char, types.VarChar, types.Binary, types.VarBinary:
		default:
			return false
		}
	}
	return true
}

// partKey appends the in-memory key of row's partition.
func (r *rankOp) partKey(dst []byte, row []types.Value) []byte {
	if !r.compactKey {
		return appendGroupKey(dst, row, r.cfg.Partition, r.ptypes)
	}
	for i, c := range r.cfg.Partition {
		switch v := row[c]; v.T {
		case types.TagNull:
			dst = append(dst, 0)
		case types.TagInt:
			dst = binary.AppendVarint(append(dst, 1), v.I)
		case types.TagString, types.TagBytes: // equal strings are equal bytes, as in the grouping form
			dst = append(binary.AppendUvarint(append(dst, 3), uint64(len(v.S))), v.S...)
		default: // not planned for these columns; kept apart and self-delimiting all the same
			k := types.AppendKey(nil, v, r.ptypes[i])
			dst = append(binary.AppendUvarint(append(dst, 2), uint64(len(k))), k...)
		}
	}
	return dst
}

// snapshotKey appends the grouping-form key of the partition at slot (loaded into p) for a snapshot.
func (r *rankOp) snapshotKey(dst []byte, slot int, p *rankPart) []byte {
	if !r.compactKey || p.seen {
		return r.groupKeyOf(dst, r.st.st.record(slot).key)
	}
	p.each(func(e rEnt) bool {
		r.dec = rankDecodeRow(r.st.row(&e), r.dec)
		dst = appendGroupKey(dst, r.dec, r.cfg.Partition, r.ptypes)
		return false
	})
	return dst
}

// groupKeyOf appends the grouping form (appendGroupKey) of the in-memory partition key k: k itself, or,
// with compact keys, k converted (a keep-first deduplication's flag has no row to rebuild it from).
func (r *rankOp) groupKeyOf(dst, k []byte) []byte {
	if !r.compactKey {
		return append(dst, k...)
	}
	for i := range r.ptypes {
		tag := k[0]
		k = k[1:]
		switch tag {
		case 0:
			dst = types.AppendKey(dst, types.NullValue, r.ptypes[i])
		case 1:
			v, n := binary.Varint(k)
			k = k[n:]
			dst = types.AppendKey(dst, types.IntValue(v), r.ptypes[i])
		default: // 3: a string's bytes; 2: the grouping form itself
			l, n := binary.Uvarint(k)
			s := k[n : n+int(l)]
			k = k[n+int(l):]
			if tag == 2 {
				dst = append(dst, s...)
			} else {
				dst = types.AppendKey(dst, types.Value{T: types.TagString, S: string(s)}, r.ptypes[i])
			}
		}
	}
	return dst
}

// compactKeyOf appends the in-memory partition key of the grouping-form key g (the inverse of groupKeyOf);
// ok is false when g is not a key of the partition columns' types.
func (r *rankOp) compactKeyOf(dst, g []byte) (_ []byte, ok bool) {
	if !r.compactKey {
		return append(dst, g...), true
	}
	for _, t := range r.ptypes {
		if len(g) == 0 {
			return dst, false
		}
		if g[0] == 0 {
			dst, g = append(dst, 0), g[1:]
			continue
		}
		g = g[1:]
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
			if len(g) < 8 {
				return dst, false
			}
			dst = binary.AppendVarint(append(dst, 1), int64(binary.BigEndian.Uint64(g)^(1<<63)))
			g = g[8:]
		default: // strings: escaped, 0x00 0xFF for a 0 byte, ended by 0x00 0x01
			var s []byte
			for {
				i := bytes.IndexByte(g, 0)
				if i < 0 || i+1 >= len(g) {
					return dst, false
				}
				s = append(s, g[:i]...)
				end := g[i+1] == 0x01
				if !end {
					s = append(s, 0)
				}
				g = g[i+2:]
				if end {
					break
				}
			}
			dst = append(binary.AppendUvarint(append(dst, 3), uint64(len(s))), s...)
		}
	}
	return dst, len(g) == 0
}
