package exec

import (
	"encoding/binary"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// wjRows holds the rows of one side of one open window of a window join, in arrival order, in byte chunks:
// a row is its first width values in the binary value encoding of rowcodec.go (a tag byte each), without a
// count; a row never spans chunks. Chunks start small and double up to wjChunkMax, so a window of a few
// rows costs a few hundred bytes and a large one wastes at most a chunk's free tail. Bytes once written are
// never changed: rows decoded from them (wjDecodeRow) point their strings into the chunks, which outlive
// the window as long as an emitted row references them.
type wjRows struct {
	chunks [][]byte
	n      int // rows
}

const (
	wjChunkMin = 256
	wjChunkMax = 64 << 10
)

// add appends a row's encoding (enc: its bytes, written by wjEncodeRow).
func (w *wjRows) add(enc []byte) {
	c := len(w.chunks) - 1
	if c < 0 || len(w.chunks[c])+len(enc) > cap(w.chunks[c]) {
		size := wjChunkMin
		if c >= 0 {
			size = min(2*cap(w.chunks[c]), wjChunkMax)
		}
		w.chunks = append(w.chunks, make([]byte, 0, max(size, len(enc))))
		c++
	}
	w.chunks[c] = append(w.chunks[c], enc...)
	w.n++
}

// bytes is the size of the rows' chunks (their capacity).
func (w *wjRows) bytes() int {
	n := 0
	for _, c := range w.chunks {
		n += cap(c)
	}
	return n
}

// wjEncodeRow appends the first width values of row (NULLs where it is shorter) to dst.
func wjEncodeRow(dst []byte, row []types.Value, width int) []byte {
	for c := range width {
		v := types.NullValue
		if c < len(row) {
			v = row[c]
		}
		dst = appendValueBinary(dst, v)
	}
	return dst
}

// wjIter reads the rows of a wjRows in order.
type wjIter struct {
	rows  *wjRows
	ci, p int
}

// next decodes the next row into dst (its length: the side's width); false at the end, or with an error
// when the bytes do not decode (they were restored from a corrupt snapshot: restore checks them, so not
// expected).
func (it *wjIter) next(dst []types.Value) (bool, error) {
	for it.ci < len(it.rows.chunks) {
		b := it.rows.chunks[it.ci]
		if it.p < len(b) {
			rest, err := wjDecodeRow(dst, b[it.p:])
			if err != nil {
				return false, err
			}
			it.p = len(b) - len(rest)
			return true, nil
		}
		it.ci++
		it.p = 0
	}
	return false, nil
}

// wjDecodeRow decodes len(dst) values from b into dst and returns the rest of b. Strings and bytes point
// into b (b is never changed).
func wjDecodeRow(dst []types.Value, b []byte) ([]byte, error) {
	for c := range dst {
		if len(b) == 0 {
			return nil, errCorruptSpill
		}
		switch tag := types.Tag(b[0]); tag {
		case types.TagNull:
			dst[c] = types.NullValue
			b = b[1:]
		case types.TagInt:
			v, m := binary.Varint(b[1:])
			if m <= 0 {
				return nil, errCorruptSpill
			}
			dst[c] = types.IntValue(v)
			b = b[1+m:]
		case types.TagString, types.TagBytes:
			l, m := binary.Uvarint(b[1:])
			if m <= 0 || l > uint64(len(b)-1-m) {
				return nil, errCorruptSpill
			}
			var s string
			if l > 0 {
				s = unsafe.String(&b[1+m], int(l))
			}
			dst[c] = types.Value{T: tag, S: s}
			b = b[1+m+int(l):]
		default:
			v, rest, err := decodeValueBinary(b)
			if err != nil {
				return nil, err
			}
			dst[c] = v
			b = rest
		}
	}
	return b, nil
}
