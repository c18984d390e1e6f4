package types

import (
	"bytes"
	"math"
	"math/big"
	"math/rand"
	"sort"
	"strconv"
	"testing"
	"time"
)

// genTypes are the types the property tests draw values from.
var genTypes = []string{
	"BOOLEAN", "TINYINT", "INT", "BIGINT", "DOUBLE", "FLOAT", "DECIMAL(38, 6)", "STRING", "BYTES", "DATE",
	"TIME(3)", "TIMESTAMP(9)", "TIMESTAMP_LTZ(3)", "INTERVAL_DT", "ARRAY<INT>", "ARRAY<STRING>",
	"MAP<STRING, INT>", "MULTISET<INT>", "ROW<a INT, b STRING, c DECIMAL(10, 2)>",
	"ARRAY<ROW<x DOUBLE, y ARRAY<BYTES>>>",
}

// genValue returns a random value of type t, biased to small domains so that ties and prefixes occur.
func genValue(r *rand.Rand, t Type, depth int) Value {
	if r.Intn(8) == 0 {
		return NullValue
	}
	switch t.Kind {
	case Boolean:
		return BoolValue(r.Intn(2) == 0)
	case TinyInt, SmallInt, Int, BigInt, IntervalDayTime, IntervalYearMonth:
		switch r.Intn(4) {
		case 0:
			return IntValue(int64(r.Intn(7)) - 3)
		case 1:
			return IntValue(r.Int63() - r.Int63())
		case 2:
			return IntValue([]int64{math.MinInt64, math.MaxInt64, -1, 0, 1}[r.Intn(5)])
		}
		return IntValue(int64(r.Intn(1000)))
	case Float, Double:
		specials := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1, -1, 1e-300,
			math.MaxFloat64, -math.SmallestNonzeroFloat64}
		if r.Intn(3) == 0 {
			return FloatValue(specials[r.Intn(len(specials))])
		}
		return FloatValue(r.NormFloat64() * math.Pow(10, float64(r.Intn(20)-10)))
	case Decimal:
		b := big.NewInt(int64(r.Intn(2001) - 1000))
		if r.Intn(3) == 0 {
			b = new(big.Int).Lsh(big.NewInt(r.Int63()), uint(r.Intn(60)))
			if r.Intn(2) == 0 {
				b.Neg(b)
			}
		}
		return BigDecimalValue(b, r.Intn(8)) // mixed scales for the same logical type
	case Char, VarChar, Binary, VarBinary:
		alpha := "ab\x00\xff"
		n := r.Intn(5)
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = alpha[r.Intn(len(alpha))]
		}
		if t.IsBinary() {
			return BytesValue(buf)
		}
		return StringValue(string(buf))
	case Date:
		return DateValue(int64(r.Intn(200000) - 100000))
	case Time:
		return TimeValue(r.Int63n(nanosPerDay))
	case Timestamp, TimestampLTZ:
		return TimestampValue(r.Int63n(1<<45)-1<<44, int32(r.Intn(3))*333333)
	case Array, Multiset:
		n := r.Intn(4)
		if depth > 2 {
			n = 0
		}
		a := make([]Value, n)
		for i := range a {
			a[i] = genValue(r, *t.Elem, depth+1)
		}
		return ArrayValue(a)
	case Map:
		n := r.Intn(3)
		m := &MapValue{}
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			k := genValue(r, *t.Key, depth+1)
			kk := string(AppendKey(nil, k, *t.Key))
			if seen[kk] {
				continue
			}
			seen[kk] = true
			m.Keys = append(m.Keys, k)
			m.Vals = append(m.Vals, genValue(r, *t.Elem, depth+1))
		}
		return MapOf(m)
	case Row:
		fs := make([]Value, len(t.Fields))
		for i, f := range t.Fields {
			fs[i] = genValue(r, f.Type, depth+1)
		}
		return RowValue(fs)
	}
	panic("genValue: " + t.String())
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

func TestKeyOrderMatchesCompare(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, ts := range genTypes {
		ty := mustType(t, ts)
		for i := 0; i < 3000; i++ {
			a, b := genValue(r, ty, 0), genValue(r, ty, 0)
			if r.Intn(10) == 0 {
				b = a
			}
			c := Compare(a, b, ty)
			if Compare(b, a, ty) != -c {
				t.Fatalf("%s: Compare not antisymmetric for %s, %s", ts, AppendSQL(nil, a, ty, nil), AppendSQL(nil, b, ty, nil))
			}
			ka, kb := AppendKey(nil, a, ty), AppendKey(nil, b, ty)
			if got := bytes.Compare(ka, kb); got != sign(c) {
				t.Fatalf("%s: Compare(%s, %s) = %d but key order %d\n%x\n%x", ts, AppendSQL(nil, a, ty, nil),
					AppendSQL(nil, b, ty, nil), c, got, ka, kb)
			}
			if got := -bytes.Compare(AppendKeyDesc(nil, a, ty), AppendKeyDesc(nil, b, ty)); got != sign(c) {
				t.Fatalf("%s: descending key order %d, Compare %d", ts, got, c)
			}
			if Equal(a, b, ty) != (c == 0) {
				t.Fatalf("%s: Equal(%s, %s) = %v, Compare = %d", ts, AppendSQL(nil, a, ty, nil), AppendSQL(nil, b, ty, nil), Equal(a, b, ty), c)
			}
			// Keys are self-delimiting: a key followed by anything still orders the same.
			if got := bytes.Compare(append(ka, 0xFF, 0xFF), append(kb, 0x00)); c != 0 && got != sign(c) {
				t.Fatalf("%s: key encoding is not prefix-free", ts)
			}
		}
	}
}

func TestCompareSorting(t *testing.T) {
	ty := DoubleType()
	vals := []Value{FloatValue(math.NaN()), FloatValue(1), NullValue, FloatValue(math.Inf(-1)), FloatValue(math.Copysign(0, -1)), FloatValue(math.Inf(1)), FloatValue(0)}
	sort.SliceStable(vals, func(i, j int) bool { return Compare(vals[i], vals[j], ty) < 0 })
	var got []byte
	for _, v := range vals {
		got = AppendSQL(got, v, ty, nil)
		got = append(got, ' ')
	}
	if want := "NULL -Infinity -0.0 0.0 1.0 Infinity NaN "; string(got) != want {
		t.Errorf("sorted doubles: %q, want %q", got, want)
	}
	dt := DecimalType(10, 3)
	if !Equal(DecimalValue(10, 1), DecimalValue(1000, 3), dt) || !bytes.Equal(AppendKey(nil, DecimalValue(10, 1), dt), AppendKey(nil, DecimalValue(1000, 3), dt)) {
		t.Error("1.0 and 1.000 must be equal with equal keys")
	}
	if !Equal(NullValue, NullValue, IntType()) {
		t.Error("NULL equals NULL for grouping")
	}
	m1 := MapOf(&MapValue{Keys: []Value{StringValue("a"), StringValue("b")}, Vals: []Value{IntValue(1), IntValue(2)}})
	m2 := MapOf(&MapValue{Keys: []Value{StringValue("b"), StringValue("a")}, Vals: []Value{IntValue(2), IntValue(1)}})
	if !Equal(m1, m2, MapType(StringType(), IntType())) {
		t.Error("maps equal regardless of entry order")
	}
	at := ArrayType(IntType())
	if Compare(ArrayValue([]Value{IntValue(1)}), ArrayValue([]Value{IntValue(1), IntValue(0)}), at) >= 0 {
		t.Error("[1] < [1, 0]")
	}
	if Compare(StringValue("ab"), StringValue("b"), StringType()) >= 0 || Compare(StringValue("a"), StringValue("a\x00"), StringType()) >= 0 {
		t.Error("string order")
	}
	// AppendRowKey concatenates column keys.
	ts := []Type{IntType(), StringType(), DoubleType()}
	row := []Value{IntValue(5), StringValue("x"), FloatValue(2)}
	want := AppendKey(AppendKey(nil, FloatValue(2), DoubleType()), IntValue(5), IntType())
	if got := AppendRowKey(nil, row, ts, []int{2, 0}); !bytes.Equal(got, want) {
		t.Errorf("AppendRowKey = %x, want %x", got, want)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var tys []Type
	for _, ts := range genTypes {
		tys = append(tys, mustType(t, ts))
	}
	for i := 0; i < 3000; i++ {
		vals := make([]Value, len(tys))
		for j, ty := range tys {
			vals[j] = genValue(r, ty, 0)
		}
		enc := AppendRowBinary([]byte{0xAB}, vals, tys)
		got, rest, err := DecodeRowBinary(enc[1:], tys, nil)
		if err != nil || len(rest) != 0 {
			t.Fatalf("decode: %v, %d bytes left", err, len(rest))
		}
		for j, ty := range tys {
			if !identical(vals[j], got[j]) {
				t.Fatalf("%s: %s decoded as %s", ty, AppendSQL(nil, vals[j], ty, nil), AppendSQL(nil, got[j], ty, nil))
			}
		}
		// Truncated input is an error, never a panic.
		for cut := 0; cut < len(enc)-1; cut += 1 + len(enc)/7 {
			if _, _, err := DecodeRowBinary(enc[1:1+cut], tys, nil); err == nil {
				t.Fatalf("decoding %d of %d bytes: no error", cut, len(enc)-1)
			}
		}
	}
}

// identical is representation equality (scale, NaN bits, -0.0 and order all kept).
func identical(a, b Value) bool {
	if a.T != b.T || a.N != b.N || a.S != b.S {
		return false
	}
	switch a.T {
	case TagDecimal:
		return a.DecimalBig().Cmp(b.DecimalBig()) == 0 && (a.X == nil) == (b.X == nil)
	case TagArray, TagRow:
		x, y := a.Array(), b.Array()
		if a.T == TagRow {
			x, y = a.Fields(), b.Fields()
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !identical(x[i], y[i]) {
				return false
			}
		}
		return true
	case TagMap:
		x, y := a.Map(), b.Map()
		if len(x.Keys) != len(y.Keys) {
			return false
		}
		for i := range x.Keys {
			if !identical(x.Keys[i], y.Keys[i]) || !identical(x.Vals[i], y.Vals[i]) {
				return false
			}
		}
		return true
	}
	return a.I == b.I
}

func TestScalarPathsDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	ts := TimestampType(3)
	d := DecimalValue(12345, 2)
	dt := DecimalType(10, 2)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendSQL(buf[:0], FloatValue(1.5e10), DoubleType(), time.UTC)
		buf = AppendSQL(buf, IntValue(42), IntType(), time.UTC)
		buf = AppendSQL(buf, TimestampValue(1e12, 5), ts, time.UTC)
		buf = AppendKey(buf, IntValue(1), IntType())
		buf = AppendKey(buf, StringValue("abc"), StringType())
		buf = AppendValueBinary(buf, d, dt)
		_ = DecimalAdd(d, d)
		_ = DecimalMul(d, d)
		_ = DecimalRescale(d, 4)
		_ = DecimalCmp(d, DecimalValue(5, 0))
		_, _ = DecimalDiv(d, DecimalValue(3, 0), 6)
		_ = Compare(d, DecimalValue(1, 5), dt)
		_ = Equal(StringValue("a"), StringValue("a"), StringType())
	})
	if allocs != 0 {
		t.Errorf("scalar paths allocate %v times per run", allocs)
	}
}

func TestJavaDoubleRoundTrips(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for i := 0; i < 100000; i++ {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		s := string(AppendJavaDouble(nil, f))
		g, err := strconv.ParseFloat(s, 64)
		if err != nil || g != f {
			t.Fatalf("%v printed as %q, parses back as %v (%v)", f, s, g, err)
		}
		a := math.Abs(f)
		sci := bytes.ContainsRune([]byte(s), 'E')
		if (a >= 1e-3 && a < 1e7) == sci {
			t.Fatalf("%v printed as %q: wrong notation", f, s)
		}
		f32 := float32(f)
		if !math.IsInf(float64(f32), 0) {
			s := string(AppendJavaFloat(nil, float64(f32)))
			g, err := strconv.ParseFloat(s, 32)
			if err != nil || float32(g) != f32 {
				t.Fatalf("float %v printed as %q", f32, s)
			}
		}
	}
	for f, want := range map[float64]string{
		1: "1.0", 100: "100.0", 1e7: "1.0E7", 1.0e-5: "1.0E-5", 0.001: "0.001", 12345.678: "12345.678",
		-1.5e10: "-1.5E10", 2e-323: "2.0E-323", math.MaxFloat64: "1.7976931348623157E308", 1e21: "1.0E21",
		123456789: "1.23456789E8", 9999999.999: "9999999.999",
	} {
		if got := string(AppendJavaDouble(nil, f)); got != want {
			t.Errorf("AppendJavaDouble(%v) = %q, want %q", f, got, want)
		}
	}
	if got := string(AppendJavaFloat(nil, float64(float32(0.1)))); got != "0.1" {
		t.Errorf("AppendJavaFloat(0.1f) = %q", got)
	}
	if got := string(AppendJavaFloat(nil, float64(math.SmallestNonzeroFloat32))); got != "1.4E-45" {
		t.Errorf("AppendJavaFloat(Float.MIN_VALUE) = %q, want 1.4E-45", got)
	}
}
