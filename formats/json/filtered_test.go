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

var filterSchema = formattest.MustSchema(`a BIGINT, s STRING, n BIGINT, r ROW<x BIGINT, y STRING, z BIGINT>`)

// tokens a field may hold: well-formed values of every kind, values of the wrong type, and malformed text.
var filterTokens = []string{`1`, `246`, `-3`, `"12"`, `"x"`, `true`, `null`, `1.5`, `99999999999999999999`,
	`[1,2]`, `{"k":1}`, `{"x":123,"y":"q","z":4}`, `{"x":"bad","y":1}`, `{"x":5,"z":"nope"}`, `"unterminated`,
	`{"x":1,`, `tru`, `[1,`}

func randomRecord(rng *rand.Rand) []byte {
	names := []string{"a", "s", "n", "r", "extra"}
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
	p := &formats.Projection{Need: make([]bool, 4), Sub: make([]*formats.Projection, 4)}
	for i := range p.Need {
		p.Need[i] = within.Needs(i) && rng.Intn(2) == 0
	}
	if p.Need[3] && rng.Intn(2) == 0 {
		sub := &formats.Projection{Need: make([]bool, 3)}
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
	pushed, refused, dropped := 0, 0, 0
	for iter := 0; iter < 400; iter++ {
		opts := map[string]string{}
		switch rng.Intn(3) {
		case 0:
			opts["ignore-parse-errors"] = "true"
		case 1:
			opts["fail-on-missing-field"] = "true"
		}
		proj := randomProjection(rng, &formats.Projection{Need: []bool{true, true, true, true}})
		reads := randomProjection(rng, proj)
		full, err := f.CreateDecoder(formats.Context{RowType: filterSchema, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		full.(formats.Projector).Project(proj)
		first, ok := full.(*json.Decoder).FilterFirst(reads)
		if !ok {
			refused++
			continue
		}
		pushed++
		fd := first.(*json.Decoder)
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
			if got != want {
				t.Fatalf("record %s, projection %+v, filter reads %+v, options %v:\nfilter first: %s\ndecode all:   %s",
					data, proj, reads, opts, got, want)
			}
		}
	}
	if pushed < 50 || refused < 50 || dropped < 100 {
		t.Fatalf("too few cases exercised: pushed %d, refused %d, dropped early %d", pushed, refused, dropped)
	}
}

// TestFilterFirstRefuses: FilterFirst refuses where a skipped field could hide an error.
func TestFilterFirstRefuses(t *testing.T) {
	f := json.NewFactory()
	reads := &formats.Projection{Need: []bool{true, false, false, false}}
	for _, c := range []struct {
		opts map[string]string
		proj *formats.Projection
		ok   bool
	}{
		{map[string]string{}, &formats.Projection{Need: []bool{true, true, false, false}}, true},  // STRING skipped
		{map[string]string{}, &formats.Projection{Need: []bool{true, true, true, false}}, false},  // BIGINT skipped
		{map[string]string{}, &formats.Projection{Need: []bool{true, false, false, true}}, false}, // ROW skipped
		{map[string]string{"ignore-parse-errors": "true"}, &formats.Projection{Need: []bool{true, true, true, true}}, true},
		{map[string]string{"fail-on-missing-field": "true"}, &formats.Projection{Need: []bool{true, true, false, false}}, false},
	} {
		d, err := f.CreateDecoder(formats.Context{RowType: filterSchema, Options: c.opts})
		if err != nil {
			t.Fatal(err)
		}
		d.(formats.Projector).Project(c.proj)
		if _, ok := d.(*json.Decoder).FilterFirst(reads); ok != c.ok {
			t.Errorf("options %v, projection %v: FilterFirst ok = %v, want %v", c.opts, c.proj.Need, ok, c.ok)
		}
	}
}
