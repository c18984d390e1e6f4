package exec

import (
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
	if !r.compactKey {
		return append(dst, r.st.st.record(slot).key...)
	}
	p.each(func(e rEnt) bool {
		r.dec = rankDecodeRow(r.st.row(&e), r.dec)
		dst = appendGroupKey(dst, r.dec, r.cfg.Partition, r.ptypes)
		return false
	})
	return dst
}
