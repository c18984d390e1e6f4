package exec

import (
	"context"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Lookuper finds the rows of a table by key (connectors.LookupSource has this shape).
type Lookuper interface {
	Open(ctx context.Context) error
	Lookup(ctx context.Context, key []types.Value, dst [][]types.Value) ([][]types.Value, error)
	Close() error
}

// LookupJoinConfig configures a lookup join.
type LookupJoinConfig struct {
	LeftKeys   []int    // input columns whose values are the lookup key, in the source's key order
	RightWidth int      // columns of a looked-up row
	Outer      bool     // LEFT JOIN: an input row without a match is emitted with NULLs
	Source     Lookuper // opened on the first row, closed at End
	// RightTypes are the looked-up row's field types (optional): the columnar path builds typed columns of
	// them, else Values columns (lookup_join_vec.go).
	RightTypes []types.Type
}

// LookupJoin joins each input row with the rows its key finds in the lookup source at that moment (a
// processing-time temporal join). Input kinds are kept: a -D row is joined with the current rows too.
type LookupJoin struct {
	cfg    LookupJoinConfig
	out    changelog.Output
	ctx    context.Context
	opened bool
	key    []types.Value
	found  [][]types.Value
	vals   []types.Value // backing store of the output rows of one batch
	batch  changelog.Batch
	nulls  []types.Value
	vx     *lookupVec // the columnar path's state (lookup_join_vec.go)
}

// NewLookupJoin returns the operator writing to out.
func NewLookupJoin(cfg LookupJoinConfig, out changelog.Output) *LookupJoin {
	return &LookupJoin{cfg: cfg, out: out, ctx: context.Background(), key: make([]types.Value, len(cfg.LeftKeys)),
		nulls: make([]types.Value, cfg.RightWidth)}
}

func (j *LookupJoin) Push(b *changelog.Batch) error {
	if !j.opened {
		if err := j.cfg.Source.Open(j.ctx); err != nil {
			return err
		}
		j.opened = true
	}
	j.batch.Reset()
	j.vals = j.vals[:0]
	for _, r := range b.Rows {
		for i, k := range j.cfg.LeftKeys {
			j.key[i] = r.Vals[k]
		}
		var err error
		if j.found, err = j.cfg.Source.Lookup(j.ctx, j.key, j.found[:0]); err != nil {
			return err
		}
		for _, d := range j.found {
			j.emit(r, d)
		}
		if len(j.found) == 0 && j.cfg.Outer {
			j.emit(r, j.nulls)
		}
	}
	if j.batch.Len() == 0 {
		return nil
	}
	return j.out.Push(&j.batch)
}

func (j *LookupJoin) emit(r changelog.Row, right []types.Value) {
	start := len(j.vals)
	j.vals = append(j.vals, r.Vals...)
	j.vals = append(j.vals, right...)
	// Rows of a batch may point into an earlier backing array after append grows it: still valid.
	j.batch.Append(r.Kind, j.vals[start:len(j.vals):len(j.vals)])
}

func (j *LookupJoin) Watermark(ts int64) error { return j.out.Watermark(ts) }

func (j *LookupJoin) End() error {
	var err error
	if j.opened {
		err = j.cfg.Source.Close()
		j.opened = false
	}
	if eerr := j.out.End(); err == nil {
		err = eerr
	}
	return err
}
