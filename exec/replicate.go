package exec

import "github.com/sluicesql/sluice/changelog"

// NewReplicate returns an operator that emits each input row count times, where count is the row's last
// column (an integer; NULL or not positive emits nothing), without that column and with the row's kind:
// the ALL forms of INTERSECT and EXCEPT (Flink's REPLICATE_ROWS). A retraction of a count retracts as many
// copies as its insertion emitted.
func NewReplicate(out changelog.Output) changelog.Output {
	return &replicate{out: out}
}

type replicate struct {
	out   changelog.Output
	batch changelog.Batch
}

// replicateChunk bounds the rows of one pushed batch: a large count is pushed in chunks.
const replicateChunk = 4096

func (r *replicate) Push(b *changelog.Batch) error {
	r.batch.Reset()
	for _, row := range b.Rows {
		last := len(row.Vals) - 1
		c := row.Vals[last]
		if c.IsNull() || c.I <= 0 {
			continue
		}
		vals := row.Vals[:last:last]
		for i := int64(0); i < c.I; i++ {
			r.batch.Append(row.Kind, vals)
			if len(r.batch.Rows) == replicateChunk {
				if err := r.out.Push(&r.batch); err != nil {
					return err
				}
				r.batch.Reset()
			}
		}
	}
	if len(r.batch.Rows) == 0 && len(b.Rows) > 0 {
		return nil
	}
	// An empty input batch is passed on, as Calc does (sources use one to signal idleness).
	return r.out.Push(&r.batch)
}

func (r *replicate) Watermark(ts int64) error { return r.out.Watermark(ts) }
func (r *replicate) End() error               { return r.out.End() }
