package vec

import (
	"math"
	"math/big"
	"math/rand"
	"reflect"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// randWide returns a random unscaled value of up to 38 digits, biased to the edges (int64 limits, 10^18,
// 10^19, 10^38 - 1) and both signs.
func randWide(r *rand.Rand) *big.Int {
	ten := big.NewInt(10)
	var b *big.Int
	switch r.Intn(6) {
	case 0:
		b = big.NewInt(r.Int63n(1000))
	case 1:
		b = big.NewInt(math.MaxInt64 - r.Int63n(3))
		b.Add(b, big.NewInt(r.Int63n(5)))
	case 2:
		b = new(big.Int).Exp(ten, big.NewInt(int64(17+r.Intn(3))), nil)
		b.Add(b, big.NewInt(r.Int63n(3)-1))
	case 3:
		b = new(big.Int).Exp(ten, big.NewInt(38), nil)
		b.Sub(b, big.NewInt(1+r.Int63n(2)))
	default:
		b = new(big.Int).Rand(r, new(big.Int).Exp(ten, big.NewInt(int64(1+r.Intn(38))), nil))
	}
	if r.Intn(2) == 0 {
		b.Neg(b)
	}
	return b
}

// Int128 converts to and from big.Int exactly and orders as big.Int does; Neg and Abs agree with it.
func TestInt128Big(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		a, b := randWide(r), randWide(r)
		x, ok := Int128FromBig(a)
		y, ok2 := Int128FromBig(b)
		if !ok || !ok2 {
			t.Fatalf("%v or %v does not convert", a, b)
		}
		if x.Big().Cmp(a) != 0 {
			t.Fatalf("round trip %v: %v", a, x.Big())
		}
		if x.Cmp(y) != a.Cmp(b) || x.Sign() != a.Sign() || x.IsInt64() != a.IsInt64() {
			t.Fatalf("cmp/sign %v %v", a, b)
		}
		if x.Neg().Big().Cmp(new(big.Int).Neg(a)) != 0 {
			t.Fatalf("neg %v", a)
		}
		hi, lo, neg := x.Abs()
		m := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
		m.Or(m, new(big.Int).SetUint64(lo))
		if neg != (a.Sign() < 0) || m.Cmp(new(big.Int).Abs(a)) != 0 {
			t.Fatalf("abs %v", a)
		}
	}
	if _, ok := Int128FromBig(new(big.Int).Lsh(big.NewInt(1), 127)); ok {
		t.Fatal("2^127 converted")
	}
	if x, ok := Int128FromBig(new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))); ok {
		t.Fatalf("-2^127 converted to %v (its magnitude does not fit; DECIMAL(38) never needs it)", x)
	}
}

// A DECIMAL(38, s) column holds every value of its type; rows convert to columns and back unchanged
// (int64-sized values stay in the int64 form of types.Value), with NULLs, Truncate and PadNulls.
func TestDec128Column(t *testing.T) {
	typ := types.DecimalType(38, 10)
	c := ColFor(typ)
	if c.Kind != Dec128 || !Exact(typ) || ColFor(types.DecimalType(18, 2)).Kind != Int64 {
		t.Fatalf("kind %d", c.Kind)
	}
	r := rand.New(rand.NewSource(2))
	var rows []changelog.Row
	for i := 0; i < 300; i++ {
		v := types.NullValue
		if r.Intn(7) != 0 {
			v = types.BigDecimalValue(randWide(r), 10)
		}
		rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{v}})
	}
	var b Batch
	if !FromRows(&b, rows, []types.Type{typ}, nil) {
		t.Fatal("rows do not convert")
	}
	var conv RowConv
	if got := conv.Rows(&b); !reflect.DeepEqual(got.Rows, rows) {
		t.Fatal("round trip differs")
	}
	if FromRows(&b, []changelog.Row{{Vals: []types.Value{types.DecimalValue(1, 3)}}}, []types.Type{typ}, nil) {
		t.Fatal("a DECIMAL of another scale converted")
	}
	if FromRows(&b, []changelog.Row{{Vals: []types.Value{types.BigDecimalValue(new(big.Int).Lsh(big.NewInt(1), 130), 10)}}}, []types.Type{typ}, nil) {
		t.Fatal("a value beyond 128 bits converted")
	}
	c = b.Cols[0]
	c.Reset(0)
	c.Append(0, types.BigDecimalValue(new(big.Int).Lsh(big.NewInt(1), 100), 10))
	for i := 1; i < 70; i++ {
		c.AppendNull(i)
	}
	c.Truncate(1)
	if c.Len() != 1 || c.Nulls.Get(0) || c.Nulls.Any() {
		t.Fatalf("truncate: len %d", c.Len())
	}
	c.PadNulls(5)
	if c.Len() != 5 || !c.IsNull(4) || c.Value(0).X.(*big.Int).Cmp(new(big.Int).Lsh(big.NewInt(1), 100)) != 0 {
		t.Fatalf("pad: len %d %v", c.Len(), c.Value(0))
	}
}
