package json_test

import (
	"fmt"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// sameValue reports whether two values are the same, representation included (int64 or big.Int form).
func sameValue(a, b types.Value) bool {
	ab, aBig := a.X.(*big.Int)
	bb, bBig := b.X.(*big.Int)
	if aBig || bBig {
		return aBig && bBig && a.T == b.T && a.N == b.N && ab.Cmp(bb) == 0
	}
	return a.T == b.T && a.N == b.N && a.I == b.I && a.S == b.S
}

// DECIMAL fields of precision 19..38 decode straight into 128-bit columns: for random numbers (up to 45
// digits, fractions longer than the scale, exponents, signs, numbers in strings, values past the
// precision), DecodeColumns gives what Decode gives, value for value and representation included, and the
// same errors; rows encoded to JSON and decoded into columns come back unchanged.
func TestJSONColumnsWideDecimal(t *testing.T) {
	rowType, err := formattest.ParseSchema("a DECIMAL(38, 10), b DECIMAL(20, 0), c DECIMAL(19, 4)")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	digits := func(n int) string {
		var sb strings.Builder
		for i := 0; i < n; i++ {
			sb.WriteByte(byte('0' + rng.Intn(10)))
		}
		return sb.String()
	}
	number := func() string {
		switch rng.Intn(12) {
		case 0:
			return "null"
		case 1:
			return `"` + digits(1+rng.Intn(20)) + `"`
		case 2:
			return digits(1+rng.Intn(3)) + "E" + fmt.Sprint(rng.Intn(30)-10)
		case 3:
			return strings.Repeat("9", 18+rng.Intn(4)) // the edges of b's and c's precision
		case 4:
			return "true"
		}
		s := strings.TrimLeft(digits(1+rng.Intn(40)), "0")
		if s == "" {
			s = "0"
		}
		if rng.Intn(2) == 0 {
			s += "." + digits(1+rng.Intn(14))
		}
		if rng.Intn(2) == 0 {
			s = "-" + s
		}
		return s
	}
	f := json.NewFactory()
	for _, opts := range []map[string]string{{}, {"ignore-parse-errors": "true"}} {
		rowDec, err := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		colDec, _ := f.CreateDecoder(formats.Context{RowType: rowType, Options: opts})
		jd := colDec.(*json.Decoder)
		if !jd.DecodesColumns() {
			t.Fatal("wide DECIMALs do not decode into columns")
		}
		cols := make([]*vec.Col, len(rowType.Fields))
		for i, fld := range rowType.Fields {
			if cols[i] = vec.ColFor(fld.Type); cols[i].Kind != vec.Dec128 {
				t.Fatalf("column %d kind %d", i, cols[i].Kind)
			}
		}
		dst := make([]types.Value, 3)
		rows, failed, wide := 0, 0, 0
		for range 3000 {
			msg := fmt.Sprintf(`{"a":%s,"b":%s,"c":%s}`, number(), number(), number())
			wok, werr := rowDec.Decode([]byte(msg), dst)
			gok, gerr := jd.DecodeColumns([]byte(msg), cols, rows)
			if wok != gok || fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("%v %s: columns %v %v, Decode %v %v", opts, msg, gok, gerr, wok, werr)
			}
			if werr != nil || !wok {
				failed++
				continue
			}
			for j, c := range cols {
				if got := c.Value(rows); !sameValue(got, dst[j]) {
					t.Fatalf("%s: column %d: %+v, Decode %+v", msg, j, got, dst[j])
				}
				if _, ok := dst[j].X.(*big.Int); ok {
					wide++
				}
			}
			rows++
		}
		if rows < 500 || failed == 0 || wide < 500 {
			t.Fatalf("%d rows, %d failures, %d values beyond int64: the test is too weak", rows, failed, wide)
		}
	}
	// Plain numbers within the scale and precision are read without a big.Int: no allocation.
	{
		dec, _ := f.CreateDecoder(formats.Context{RowType: rowType})
		jd := dec.(*json.Decoder)
		cols := make([]*vec.Col, 3)
		for i, fld := range rowType.Fields {
			cols[i] = vec.ColFor(fld.Type)
		}
		msg := []byte(`{"a":-12345678901234567890.0123456789,"b":99999999999999999999,"c":123456789012345.12}`)
		allocs := testing.AllocsPerRun(100, func() {
			for _, c := range cols {
				c.Reset(0)
			}
			if ok, err := jd.DecodeColumns(msg, cols, 0); !ok || err != nil {
				t.Fatal(ok, err)
			}
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per message", allocs)
		}
		if got := types.DecimalString(cols[2].Value(0)); got != "123456789012345.1200" {
			t.Fatalf("c = %s", got)
		}
		// Exponents, fractions longer than the scale (rounded half-up) and values past the precision (NULL)
		// too, now that one 128-bit parser (textconv) reads every JSON number.
		msg = []byte(`{"a":-1.23456789012345678901234567891e25,"b":999999999999999999999,"c":-12345678901234.56785}`)
		allocs = testing.AllocsPerRun(100, func() {
			for _, c := range cols {
				c.Reset(0)
			}
			if ok, err := jd.DecodeColumns(msg, cols, 0); !ok || err != nil {
				t.Fatal(ok, err)
			}
		})
		if allocs != 0 {
			t.Fatalf("exponents, rounding, overflow: %v allocations per message", allocs)
		}
		got := types.DecimalString(cols[0].Value(0)) + " " + fmt.Sprint(cols[1].Value(0).IsNull()) + " " + types.DecimalString(cols[2].Value(0))
		if want := "-12345678901234567890123456.7891000000 true -12345678901234.5679"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	// Round trip: rows encoded by the JSON encoder decode into columns unchanged.
	enc, err := f.CreateEncoder(formats.Context{RowType: rowType})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := f.CreateDecoder(formats.Context{RowType: rowType})
	jd := dec.(*json.Decoder)
	cols := make([]*vec.Col, 3)
	for i, fld := range rowType.Fields {
		cols[i] = vec.ColFor(fld.Type)
	}
	ten := big.NewInt(10)
	for i := 0; i < 1000; i++ {
		row := make([]types.Value, 3)
		for j, fld := range rowType.Fields {
			if rng.Intn(8) == 0 {
				continue
			}
			u := new(big.Int).Rand(rng, new(big.Int).Exp(ten, big.NewInt(int64(1+rng.Intn(fld.Type.Precision))), nil))
			if rng.Intn(2) == 0 {
				u.Neg(u)
			}
			row[j] = types.BigDecimalValue(u, fld.Type.Scale)
		}
		data, err := enc.Encode(nil, row)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := jd.DecodeColumns(data, cols, i); !ok || err != nil {
			t.Fatalf("%s: %v %v", data, ok, err)
		}
		for j, c := range cols {
			if got := c.Value(i); !sameValue(got, row[j]) {
				t.Fatalf("%s: column %d: %+v, want %+v", data, j, got, row[j])
			}
		}
	}
}
