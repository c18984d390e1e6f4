package json_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Nested ROW members decode straight into the child columns of a struct column: for random Nexmark-shaped
// events (each ROW present, null or absent, members missing, repeated, of the wrong type, nested deeper),
// with and without the q1 projection and under every error option, DecodeColumns gives what Decode gives:
// the same rows (read back from the columns) and the same errors, and leaves the columns intact on errors.
func TestJSONColumnsNestedRows(t *testing.T) {
	if !json.ColumnsSupported(nexmarkSchema) {
		t.Fatal("the Nexmark schema has no columnar form")
	}
	rng := rand.New(rand.NewSource(5))
	members := func(names []string, vals []string) string {
		var parts []string
		for i, n := range names {
			switch rng.Intn(10) {
			case 0: // absent
				continue
			case 1:
				parts = append(parts, fmt.Sprintf("%q:null", n))
			case 2:
				parts = append(parts, fmt.Sprintf("%q:%s", n, []string{`"x"`, `12`, `{"a":1}`, `[1,2]`, `true`}[rng.Intn(5)]))
			default:
				parts = append(parts, fmt.Sprintf("%q:%s", n, vals[i]))
			}
			if rng.Intn(20) == 0 { // repeated key: the last wins
				parts = append(parts, fmt.Sprintf("%q:%s", n, vals[i]))
			}
		}
		if rng.Intn(10) == 0 {
			parts = append(parts, `"unknown":{"deep":[1,{"x":2}]}`)
		}
		rng.Shuffle(len(parts), func(i, j int) {
			if rng.Intn(4) == 0 {
				parts[i], parts[j] = parts[j], parts[i]
			}
		})
		return "{" + strings.Join(parts, ",") + "}"
	}
	rowOf := func(names, vals []string) string {
		switch rng.Intn(6) {
		case 0:
			return "null"
		case 1:
			return `"not an object"`
		}
		return members(names, vals)
	}
	person := []string{"id", "name", "emailAddress", "creditCard", "city", "state", "dateTime", "extra"}
	personV := []string{`1001`, `"Ann"`, `"a@b.c"`, `"1234"`, `"Ülm"`, `"CA"`, `"2024-05-06 07:08:09.123"`, `""`}
	auction := []string{"id", "itemName", "description", "initialBid", "reserve", "dateTime", "expires", "seller", "category", "extra"}
	auctionV := []string{`7`, `"item"`, `"d"`, `100`, `200`, `"2024-05-06 07:08:09"`, `"2024-05-07 07:08:09.5"`, `1001`, `10`, `"e"`}
	bid := []string{"auction", "bidder", "price", "channel", "url", "dateTime", "extra"}
	bidV := []string{`1007`, `2001`, `8765`, `"Google"`, `"https://x/y?channel_id=1"`, `"2024-05-06 07:08:09.123"`, `"zz"`}
	var msgs []string
	for range 400 {
		var parts []string
		if rng.Intn(8) != 0 {
			parts = append(parts, fmt.Sprintf(`"event_type":%d`, rng.Intn(3)))
		}
		if rng.Intn(8) != 0 {
			parts = append(parts, `"person":`+rowOf(person, personV))
		}
		if rng.Intn(8) != 0 {
			parts = append(parts, `"auction":`+rowOf(auction, auctionV))
		}
		if rng.Intn(8) != 0 {
			parts = append(parts, `"bid":`+rowOf(bid, bidV))
		}
		msg := "{" + strings.Join(parts, ",") + "}"
		if rng.Intn(25) == 0 {
			msg = msg[:rng.Intn(len(msg))] // truncated
		}
		msgs = append(msgs, msg)
	}
	checked, failed := 0, 0
	for _, opts := range []map[string]string{{}, {"ignore-parse-errors": "true"}, {"fail-on-missing-field": "true"}} {
		for _, projected := range []bool{false, true} {
			f := json.NewFactory()
			rowDec, err := f.CreateDecoder(formats.Context{RowType: nexmarkSchema, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			colDec, _ := f.CreateDecoder(formats.Context{RowType: nexmarkSchema, Options: opts})
			if projected {
				rowDec.(formats.Projector).Project(q1Projection())
				colDec.(formats.Projector).Project(q1Projection())
			}
			jd := colDec.(*json.Decoder)
			cols := make([]*vec.Col, len(nexmarkSchema.Fields))
			for i, fld := range nexmarkSchema.Fields {
				cols[i] = vec.ColFor(fld.Type)
			}
			if cols[3].Kind != vec.Struct {
				t.Fatalf("bid column kind %d, want a struct column", cols[3].Kind)
			}
			var want []string
			dst := make([]types.Value, len(nexmarkSchema.Fields))
			rows := 0
			for _, m := range msgs {
				wok, werr := rowDec.Decode([]byte(m), dst)
				wantRow := formattest.DumpRow(dst, nexmarkSchema)
				gok, gerr := jd.DecodeColumns([]byte(m), cols, rows)
				if fmt.Sprint(werr) != fmt.Sprint(gerr) || wok != gok {
					t.Fatalf("%v projected=%t %s:\ncolumns: %v %v\nDecode:  %v %v", opts, projected, m, gok, gerr, wok, werr)
				}
				for j, c := range cols {
					n := rows
					if gok && gerr == nil {
						n++
					}
					if c.Len() != n {
						t.Fatalf("%s: column %d has %d rows, want %d", m, j, c.Len(), n)
					}
				}
				if werr != nil {
					failed++
				}
				if gok && gerr == nil {
					for j, c := range cols {
						dst[j] = c.Value(rows)
					}
					if got := formattest.DumpRow(dst, nexmarkSchema); got != wantRow {
						t.Fatalf("%v projected=%t %s:\ncolumns: %s\nDecode:  %s", opts, projected, m, got, wantRow)
					}
					want = append(want, wantRow)
					rows++
					checked++
				}
			}
			for i := range rows { // earlier rows survive later appends, skips and failures
				for j, c := range cols {
					dst[j] = c.Value(i)
				}
				if got := formattest.DumpRow(dst, nexmarkSchema); got != want[i] {
					t.Fatalf("row %d read again: %s, want %s", i, got, want[i])
				}
			}
		}
	}
	if checked < 500 || failed == 0 {
		t.Fatalf("%d rows compared, %d failures: the test is too weak", checked, failed)
	}
	t.Logf("%d rows compared, %d messages failed the same way", checked, failed)
}

// BenchmarkNexmarkBidDecodeColumns is BenchmarkNexmarkBidDecode into columns (the bid ROW a struct column),
// 1024 rows a batch.
func BenchmarkNexmarkBidDecodeColumns(b *testing.B) {
	for _, projected := range []bool{false, true} {
		b.Run(fmt.Sprintf("projected=%t", projected), func(b *testing.B) {
			dec, err := json.NewFactory().CreateDecoder(formats.Context{RowType: nexmarkSchema})
			if err != nil {
				b.Fatal(err)
			}
			if projected {
				dec.(formats.Projector).Project(q1Projection())
			}
			jd := dec.(*json.Decoder)
			cols := make([]*vec.Col, len(nexmarkSchema.Fields))
			for i, f := range nexmarkSchema.Fields {
				cols[i] = vec.ColFor(f.Type)
			}
			row := 0
			b.ReportAllocs()
			b.SetBytes(int64(len(nexmarkBid)))
			for b.Loop() {
				if row == 1024 {
					for _, c := range cols {
						c.Reset(0)
					}
					row = 0
				}
				if ok, err := jd.DecodeColumns(nexmarkBid, cols, row); !ok || err != nil {
					b.Fatal(ok, err)
				}
				row++
			}
		})
	}
}
