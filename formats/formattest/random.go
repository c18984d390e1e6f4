package formattest

import (
	"math/big"
	"math/rand"

	"github.com/sluicesql/sluice/types"
)

// RandomRow returns random values of rowType's fields (RandomValue), for tests that compare two decoders
// over generated records.
func RandomRow(rng *rand.Rand, rowType types.Type) []types.Value {
	row := make([]types.Value, len(rowType.Fields))
	for i, f := range rowType.Fields {
		row[i] = RandomValue(rng, f.Type)
	}
	return row
}

// RandomValue returns a random value of t: NULL one time in eight when t is nullable, extremes of the
// type's range now and then, strings with delimiters, quotes and line breaks, decimals using the full
// precision, timestamps with sub-millisecond digits up to the type's precision.
func RandomValue(rng *rand.Rand, t types.Type) types.Value {
	if !t.NotNull && rng.Intn(8) == 0 {
		return types.NullValue
	}
	switch t.Kind {
	case types.Boolean:
		return types.BoolValue(rng.Intn(2) == 0)
	case types.TinyInt:
		return types.IntValue(int64(int8(rng.Uint32())))
	case types.SmallInt:
		return types.IntValue(int64(int16(rng.Uint32())))
	case types.Int:
		return types.IntValue(int64(int32(rng.Uint32())))
	case types.BigInt:
		if rng.Intn(4) == 0 {
			return types.IntValue(int64(rng.Intn(100)) - 50)
		}
		return types.IntValue(int64(rng.Uint64()))
	case types.Float:
		return types.FloatValue(float64(float32(rng.NormFloat64() * 1e3)))
	case types.Double:
		return types.FloatValue(rng.NormFloat64() * 1e6)
	case types.Decimal:
		digits := 1 + rng.Intn(t.Precision)
		b := make([]byte, 0, digits+1)
		if rng.Intn(2) == 0 {
			b = append(b, '-')
		}
		for i := 0; i < digits; i++ {
			b = append(b, byte('0'+rng.Intn(10)))
		}
		x, _ := new(big.Int).SetString(string(b), 10)
		if x.IsInt64() {
			return types.DecimalValue(x.Int64(), t.Scale)
		}
		return types.BigDecimalValue(x, t.Scale)
	case types.Char, types.VarChar:
		const alphabet = "abcxyz ,;\"'\\#\n\r\té€0129"
		r := []rune(alphabet)
		n := rng.Intn(12)
		s := make([]rune, n)
		for i := range s {
			s[i] = r[rng.Intn(len(r))]
		}
		return types.StringValue(string(s))
	case types.Binary, types.VarBinary:
		b := make([]byte, rng.Intn(10))
		rng.Read(b)
		return types.BytesValue(b)
	case types.Date:
		return types.DateValue(int64(rng.Intn(40000)) - 10000)
	case types.Time:
		ms := int64(rng.Intn(86_400_000))
		return types.TimeValue(ms * 1_000_000)
	case types.Timestamp, types.TimestampLTZ:
		ms := int64(rng.Intn(4_000_000_000_000)) - 1_000_000_000_000
		var nanos int32
		if t.Precision > 3 {
			nanos = int32(rng.Intn(1_000_000))
		}
		return types.TruncateTimestamp(types.TimestampValue(ms, nanos), t.Precision)
	case types.Array:
		out := make([]types.Value, rng.Intn(4))
		for i := range out {
			out[i] = RandomValue(rng, *t.Elem)
		}
		return types.ArrayValue(out)
	case types.Map:
		m := &types.MapValue{}
		for i, n := 0, rng.Intn(3); i < n; i++ {
			m.Keys = append(m.Keys, types.StringValue(string(rune('a'+i))))
			m.Vals = append(m.Vals, RandomValue(rng, *t.Elem))
		}
		return types.MapOf(m)
	case types.Row:
		return types.RowValue(RandomRow(rng, t))
	}
	return types.NullValue
}
