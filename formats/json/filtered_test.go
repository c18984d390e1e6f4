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

var filterSchema = formattest.MustSchema(`a BIGINT, s STRING, n BIGINT, r ROW<x BIGINT, y STRING, z BIGINT, t TIMESTAMP(3)>,
  b BOOLEAN, f DOUBLE, d DECIMAL(10, 2), t TIMESTAMP(3), dt DATE, i INT`)

// tokens a field may hold: well-formed values of every kind, values of the wrong type, and malformed text.
var filterTokens = []string{`1`, `246`, `-3`, `"12"`, `"x"`, `true`, `null`, `1.5`, `99999999999999999999`,
	`[1,2]`, `{"k":1}`, `{"x":123,"y":"q","z":4}`, `{"x":"bad","y":1}`, `{"x":5,"z":"nope"}`, `"unterminated`,
	`{"x":1,`, `tru`, `[1,`, `false`, `1e400`, `12345678901.5`, `2.25`, `"2.5"`, `"true"`, `3000000000`,
	`"2020-01-01 00:00:00"`, `"2020-13-01 00:00:00"`, `"2020-01-01"`, `"2020-02-30"`, `{"x":3,"t":"2020-01-01 00:00:01.5"}`,
	`{"x":6,"t":"bad"}`, `{"x":9,"t":1}`, `{"x":12,"x":"dup"}`, `[[[[1]]]]`}

func randomRecord(rng *rand.Rand) []byte {
	names := []string{"a", "s", "n", "r", "b", "f", "d", "t", "dt", "i", "extra"}
	var parts []string
	for _, i := range rng.Perm(len(names))[:rng.Intn(len(names)+1)] {
		parts = append(parts, fmt.Sprintf(`"%s":%s`, names[i], filterTokens[rng.Intn(len(filterTokens))]))
	}
	if rng.Intn(8) == 0 && len(parts) > 0 {
		parts = append(parts, parts[0]) // a repeated key
	}
	out := "{" + strings.Join(parts, ",") + "}"
	switch rng.Intn(20) {
	case 0:
		out += "x" // trailing data
	case 1:
		out = "[1]"
	case 2:
		out = ""
	}
	return []byte(out)
}

func randomProjection(rng *rand.Rand, within *formats.Projection) *formats.Projection {
	n := len(filterSchema.Fields)
	p := &formats.Projection{Need: make([]bool, n), Sub: make([]*formats.Projection, n)}
	for i := range p.Need {
		p.Need[i] = within.Needs(i) && rng.Intn(2) == 0
	}
	if p.Need[3] && rng.Intn(2) == 0 {
		sub := &formats.Projection{Need: make([]bool, 4)}
		for k := range sub.Need {
			sub.Need[k] = within.Of(3).Needs(k) && rng.Intn(2) == 0
		}
		p.Sub[3] = sub
	}
	return p
}

// outcome is what decoding a record gives: its values or its error, as text.
func outcome(ok bool, err error, cols []*vec.Col, row int, _ []types.Type) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if !ok {
		return "skipped"
	}
	var b strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&b, "%v;", c.Value(row))
	}
	return b.String()
}

// TestFilterFirstProperty: for random records, projections, filters and options, decoding everything and
// then filtering gives what filtering on the first decoder's fields and then decoding the rows that pass (and
// the rows the first decoder could not read) gives: the same rows, values, errors and skips.
func TestFilterFirstProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	f := json.NewFactory()
	ts := make([]types.Type, len(filterSchema.Fields))
	for i, fd := range filterSchema.Fields {
		ts[i] = fd.Type
	}
	newCols := func() []*vec.Col {
		cols := make([]*vec.Col, len(ts))
		for i, t := range ts {
			cols[i] = vec.ColFor(t)
		}
		return cols
	}
	all := make([]bool, len(ts))
	for i := range all {
		all[i] = true
	}
	dropped, failed := 0, 0
	for iter := 0; iter < 600; iter++ {
		opts := map[string]string{}
		switch rng.Intn(3) {
		case 0:
			opts["ignore-parse-errors"] = "true"
		case 1:
			opts["fail-on-missing-field"] = "true"
		}
		proj := randomProjection(rng, &formats.Projection{Need: all})
		reads := randomProjection(rng, proj)
		full, err := f.CreateDecoder(formats.Context{RowType: filterSchema, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		full.(formats.Projector).Project(proj)
		fd := full.(*json.Decoder).FilterFirst(reads).(*json.Decoder)
		// The filter: a's or r.x's value is divisible by 3, or it is NULL (a NULL filter result drops).
		keep := func(cols []*vec.Col, row int) bool {
			for _, i := range []int{0, 3} {
				if !reads.Needs(i) {
					continue
				}
				v := cols[i].Value(row)
				if i == 3 {
					if v.IsNull() || !reads.Of(3).Needs(0) {
						continue
					}
					v = v.Fields()[0]
				}
				if v.IsNull() {
					return false
				}
				return v.I%3 == 0
			}
			return true
		}
		for rec := 0; rec < 30; rec++ {
			data := randomRecord(rng)
			a := newCols()
			aok, aerr := full.(*json.Decoder).DecodeColumns(data, a, 0)
			want := "dropped"
			if aerr != nil || !aok || keep(a, 0) {
				want = outcome(aok, aerr, a, 0, ts)
			}
			b := newCols()
			bok, berr := fd.DecodeColumns(data, b, 0)
			got := "dropped"
			if berr != nil || !bok || keep(b, 0) {
				c := newCols()
				cok, cerr := full.(*json.Decoder).DecodeColumns(data, c, 0)
				got = outcome(cok, cerr, c, 0, ts)
			} else {
				dropped++
			}
			if aerr != nil {
				failed++
			}
			if got != want {
				t.Fatalf("record %s, projection %+v, filter reads %+v, options %v:\nfilter first: %s\ndecode all:   %s",
					data, proj, reads, opts, got, want)
			}
		}
	}
	if dropped < 500 || failed < 1000 {
		t.Fatalf("too few cases exercised: dropped early %d, failed %d", dropped, failed)
	}
}

// TestFilterFirstChecksOtherFields: a field the filter does not read but the query does, malformed or of the
// wrong shape for its type, fails the filter-first decoder as it fails the full decoder (same error), for
// each type family; so a record the filter would drop still reports the error. A well-formed value passes.
func TestFilterFirstChecksOtherFields(t *testing.T) {
	f := json.NewFactory()
	reads := &formats.Projection{Need: []bool{true, false}}
	for _, c := range []struct {
		typ, good string
		bad       []string
	}{
		{"BIGINT", `-12`, []string{`"x"`, `99999999999999999999`, `true`, `{"k":1}`, `1.`, `-`}},
		{"INT", `"7"`, []string{`3000000000`, `[1]`}},
		{"DOUBLE", `1e400`, []string{`"x"`, `true`, `1e`, `[1.5]`}},
		{"DECIMAL(10, 2)", `12345678901.5`, []string{`"x"`, `false`, `{}`}},
		{"BOOLEAN", `"TRUE"`, []string{`2`, `"x"`, `tru`, `[true]`}},
		{"STRING", `{"x":[1,2]}`, []string{`"unterminated`, `{"x":1,`, `"\u12"`, `[1,]`}},
		{"TIMESTAMP(3)", `"2020-01-01 00:00:00.123"`, []string{`"2020-13-01 00:00:00"`, `1`, `"x"`}},
		{"DATE", `"2020-02-29"`, []string{`"2020-02-30"`, `20200101`}},
		{"TIME", `"12:00:00"`, []string{`"25:00:00"`, `true`}},
		{"BYTES", `"AAEC"`, []string{`"!!"`, `12`}},
		{"ROW<x BIGINT, y STRING>", `{"y":1,"x":2,"z":[]}`, []string{`{"x":"bad"}`, `1`, `{"x":1,}`, `{"x":1`}},
		{"ARRAY<BIGINT>", `[1,null,3]`, []string{`["x"]`, `{"x":1}`}},
		{"MAP<STRING, BIGINT>", `{"k":1}`, []string{`{"k":"x"}`, `[1]`}},
	} {
		schema := formattest.MustSchema("a BIGINT, v " + c.typ)
		for _, opts := range []map[string]string{{}, {"fail-on-missing-field": "true"}} {
			full, err := f.CreateDecoder(formats.Context{RowType: schema, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			first := full.(*json.Decoder).FilterFirst(reads).(*json.Decoder)
			decode := func(d *json.Decoder, data string) (bool, error) {
				cols := []*vec.Col{vec.ColFor(schema.Fields[0].Type), vec.ColFor(schema.Fields[1].Type)}
				return d.DecodeColumns([]byte(data), cols, 0)
			}
			bad := c.bad
			if opts["fail-on-missing-field"] != "" {
				bad = []string{""} // v absent
			}
			for _, tok := range bad {
				data := `{"a":1,"v":` + tok + `}`
				if tok == "" {
					data = `{"a":1}`
				}
				_, werr := decode(full.(*json.Decoder), data)
				if werr == nil {
					t.Fatalf("%s: the full decoder reads %s", c.typ, data)
				}
				if ok, err := decode(first, data); err == nil || err.Error() != werr.Error() {
					t.Errorf("%s, options %v, %s: filter first gives ok %v, error %v; want the error %v", c.typ, opts, data, ok, err, werr)
				}
			}
			data := `{"a":1,"v":` + c.good + `}`
			if ok, err := decode(first, data); !ok || err != nil {
				t.Errorf("%s: filter first fails %s: %v, %v", c.typ, data, ok, err)
			}
			if ok, err := decode(full.(*json.Decoder), data); !ok || err != nil {
				t.Errorf("%s: the full decoder fails %s: %v, %v", c.typ, data, ok, err)
			}
		}
	}
}

// FilterFirstPays: pushed only where the other fields read are scanned, not converted.
func TestFilterFirstPays(t *testing.T) {
	schema := formattest.MustSchema("a BIGINT, s STRING, n BIGINT, r ROW<x BIGINT, y STRING>")
	reads := &formats.Projection{Need: []bool{true, false, false, false}}
	f := json.NewFactory()
	for _, c := range []struct {
		opts map[string]string
		proj *formats.Projection // what the full decoder reads
		want bool
	}{
		{nil, &formats.Projection{Need: []bool{true, true, false, false}}, true},  // s STRING checked
		{nil, &formats.Projection{Need: []bool{true, true, true, false}}, false},  // n BIGINT checked
		{nil, &formats.Projection{Need: []bool{true, false, false, true}}, false}, // r's x BIGINT checked
		{nil, &formats.Projection{Need: []bool{true, false, false, true}, Sub: []*formats.Projection{nil, nil, nil, {Need: []bool{false, true}}}}, true},
		{map[string]string{"ignore-parse-errors": "true"}, &formats.Projection{Need: []bool{true, true, true, true}}, true},
		{map[string]string{"fail-on-missing-field": "true"}, &formats.Projection{Need: []bool{true, false, true, false}}, false},
		{map[string]string{"fail-on-missing-field": "true"}, &formats.Projection{Need: []bool{true, true, false, false}}, true},
	} {
		full, err := f.CreateDecoder(formats.Context{RowType: schema, Options: c.opts})
		if err != nil {
			t.Fatal(err)
		}
		full.(formats.Projector).Project(c.proj)
		if got := full.(*json.Decoder).FilterFirstPays(reads); got != c.want {
			t.Errorf("options %v, decoder reads %v %v: FilterFirstPays %v, want %v", c.opts, c.proj.Need, c.proj.Sub, got, c.want)
		}
	}
}
