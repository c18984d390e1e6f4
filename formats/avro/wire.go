package avro

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
)

// The Avro binary encoding: zig-zag varints for int and long, little-endian IEEE floats, length-prefixed
// bytes and strings, blocked arrays and maps.

var (
	errShort      = errors.New("unexpected end of data")
	errVarint     = errors.New("malformed varint")
	errIntRange   = errors.New("int out of range")
	errNegLength  = errors.New("negative length")
	errBlockCount = errors.New("block count larger than the data")
)

type reader struct {
	b []byte
	p int
}

func (r *reader) long() (int64, error) {
	var u uint64
	var shift uint
	for i := 0; i < 10; i++ {
		if r.p >= len(r.b) {
			return 0, errShort
		}
		c := r.b[r.p]
		r.p++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
		shift += 7
	}
	return 0, errVarint
}

func (r *reader) int() (int64, error) {
	v, err := r.long()
	if err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
		return 0, errIntRange
	}
	return v, err
}

func (r *reader) bool() (bool, error) {
	if r.p >= len(r.b) {
		return false, errShort
	}
	c := r.b[r.p]
	r.p++
	return c != 0, nil
}

func (r *reader) float() (float32, error) {
	if len(r.b)-r.p < 4 {
		return 0, errShort
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.p:]))
	r.p += 4
	return v, nil
}

func (r *reader) double() (float64, error) {
	if len(r.b)-r.p < 8 {
		return 0, errShort
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.p:]))
	r.p += 8
	return v, nil
}

// bytes returns the next length-prefixed byte string, aliasing the input.
func (r *reader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, errNegLength
	}
	return r.fixed(n)
}

func (r *reader) fixed(n int64) ([]byte, error) {
	if int64(len(r.b)-r.p) < n {
		return nil, errShort
	}
	b := r.b[r.p : r.p+int(n)]
	r.p += int(n)
	return b, nil
}

// blockCount reads an array or map block header: the item count (a negative count is followed by the block's
// size in bytes, which we do not need).
func (r *reader) blockCount() (int64, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, errBlockCount
		}
		n = -n
		if _, err := r.long(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendFloat(dst []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
}

func appendDouble(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendBytes(dst []byte, s string) []byte {
	dst = appendLong(dst, int64(len(s)))
	return append(dst, s...)
}

// twosComplementLen64 is the number of bytes of the minimal big-endian two's-complement form of u (as Java's
// BigInteger.toByteArray).
func twosComplementLen64(u int64) int {
	n := 8
	for n > 1 {
		top := byte(u >> (8 * (n - 1)))
		next := byte(u >> (8 * (n - 2)))
		if (top == 0 && next&0x80 == 0) || (top == 0xff && next&0x80 != 0) {
			n--
			continue
		}
		break
	}
	return n
}

// appendTwos64 appends the n-byte big-endian two's-complement form of u (n ≥ its minimal length; sign-extended).
func appendTwos64(dst []byte, u int64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		if i >= 8 {
			dst = append(dst, byte(u>>63))
			continue
		}
		dst = append(dst, byte(u>>(8*i)))
	}
	return dst
}

// twosBig returns the minimal big-endian two's-complement form of x.
func twosBig(x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	y := new(big.Int).Neg(x)
	y.Sub(y, big.NewInt(1))
	b := y.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// fromTwos decodes a big-endian two's-complement integer: into small when it fits 8 bytes, else into a new
// big.Int.
func fromTwos(b []byte) (small int64, bigv *big.Int) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) <= 8 {
		var u int64
		if b[0]&0x80 != 0 {
			u = -1
		}
		for _, c := range b {
			u = u<<8 | int64(c)
		}
		return u, nil
	}
	if b[0]&0x80 == 0 {
		return 0, new(big.Int).SetBytes(b)
	}
	inv := make([]byte, len(b))
	for i, c := range b {
		inv[i] = ^c
	}
	y := new(big.Int).SetBytes(inv)
	y.Neg(y)
	y.Sub(y, big.NewInt(1))
	return 0, y
}
