package datagen_test

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/datagen"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// projTable has a field of every generator kind (sequences, random scalars, variable-length strings and
// bytes, big decimals, times, collections, nested ROWs, NULL rates), so that skipping any of them must draw
// what generating it draws.
const projTable = `id BIGINT, b BOOLEAN, i INT, f DOUBLE, r FLOAT, d DECIMAL(10, 2), bd DECIMAL(38, 4), s STRING, vs STRING, bs BYTES, vb BYTES, ts TIMESTAMP(3), ltz TIMESTAMP_LTZ(3), dt DATE, tm TIME(3), a ARRAY<INT>, ms MULTISET<STRING>, m MAP<STRING, BIGINT>, rw ROW<x INT, y STRING, z ROW<p BYTES, q DATE, w ARRAY<STRING>>>, n STRING
fields.id.kind=sequence
fields.id.start=1
fields.id.end=700
fields.i.null-rate=0.3
fields.vs.var-len=true
fields.vs.length=40
fields.bs.length=37
fields.vb.var-len=true
fields.vb.length=29
fields.ts.max-past=1h
fields.ltz.max-past=10s
fields.dt.max-past=100d
fields.tm.max-past=1h
fields.a.length=3
fields.ms.length=4
fields.ms.element.length=1
fields.m.length=3
fields.m.key.length=1
fields.rw.null-rate=0.2
fields.rw.y.var-len=true
fields.rw.z.p.var-len=true
fields.rw.z.q.max-past=30d
fields.rw.z.w.length=2
fields.s.null-rate=0.1`

// projectRow is row as p reads it: what p does not need NULL, down the ROW members.
func projectRow(v types.Value, p *formats.Projection) types.Value {
	if p == nil || v.IsNull() {
		return v
	}
	fs := slices.Clone(v.Fields())
	for i := range fs {
		if !p.Needs(i) {
			fs[i] = types.NullValue
		} else {
			fs[i] = projectRow(fs[i], p.Of(i))
		}
	}
	return types.RowValue(fs)
}

// A projected source gives the read fields (and ROW members) the values the full source gives them, for
// every generator kind, at parallelism 1 to 3 and several seeds; the others are NULL.
func TestProjectionKeepsReadValues(t *testing.T) {
	const width = 20
	r := rand.New(rand.NewSource(1))
	var ps []*formats.Projection
	for i := 0; i < width; i++ { // each field alone
		p := &formats.Projection{Need: make([]bool, width)}
		p.Need[i] = true
		ps = append(ps, p)
	}
	for k := 0; k < 12; k++ { // random fields, ROW members in part
		p := &formats.Projection{Need: make([]bool, width), Sub: make([]*formats.Projection, width)}
		for i := range p.Need {
			p.Need[i] = r.Intn(2) == 0
		}
		if r.Intn(2) == 0 {
			p.Need[18] = true
			p.Sub[18] = &formats.Projection{Need: []bool{r.Intn(2) == 0, r.Intn(2) == 0, true},
				Sub: []*formats.Projection{nil, nil, {Need: []bool{r.Intn(2) == 0, r.Intn(2) == 0, r.Intn(2) == 0}}}}
		}
		ps = append(ps, p)
	}
	for _, seed := range []uint64{7, 99} {
		for n := 1; n <= 3; n++ {
			full := runAll(t, createSource(t, projTable, datagen.WithSeed(seed), fixedClock()), n, nil)
			for pi, p := range ps {
				src := createSource(t, projTable, datagen.WithSeed(seed), fixedClock())
				src.(connectors.ProjectableSource).ApplyProjection(p)
				got := runAll(t, src, n, nil)
				for sub := range full {
					if len(got[sub].rows) != len(full[sub].rows) {
						t.Fatalf("seed %d n=%d projection %d subtask %d: %d rows, want %d", seed, n, pi, sub, len(got[sub].rows), len(full[sub].rows))
					}
					for k, row := range full[sub].rows {
						want := projectRow(types.RowValue(row), p).Fields()
						if !reflect.DeepEqual(got[sub].rows[k], want) {
							t.Fatalf("seed %d n=%d projection %d subtask %d row %d:\n got %v\nwant %v", seed, n, pi, sub, k, got[sub].rows[k], want)
						}
					}
				}
			}
		}
	}
}

func fixedClock() datagen.Option {
	clock := &fakeClock{now: clockStart}
	return datagen.WithClock(clock.Now, clock.Sleep)
}

// BenchmarkProjection: 100,000 rows of a BIGINT sequence, two strings, a timestamp and a ROW, all read
// (full) or only the id read (projected: the other fields only draw their random numbers).
func BenchmarkProjection(b *testing.B) {
	const tbl = `id BIGINT, s STRING, vs STRING, ts TIMESTAMP(3), rw ROW<x INT, y STRING>
fields.id.kind=sequence
fields.id.start=1
fields.id.end=100000
fields.s.length=32
fields.vs.var-len=true
fields.vs.length=64
fields.ts.max-past=1h`
	for _, projected := range []bool{false, true} {
		name := "full"
		if projected {
			name = "projected"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				src := createSource(b, tbl, fixedClock())
				if projected {
					src.(connectors.ProjectableSource).ApplyProjection(&formats.Projection{Need: []bool{true, false, false, false, false}})
				}
				if err := src.Run(b.Context(), discard{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Push(*changelog.Batch) error { return nil }
func (discard) Watermark(int64) error       { return nil }
func (discard) End() error                  { return nil }
