package kafka_test

import (
	"sync/atomic"
	"testing"

	"github.com/sluicesql/sluice/vec"
)

// colCollector is a collector that takes column vectors, as the vectorized operators do: the source then
// decodes into columns (source_vec.go); the batches are read back as rows.
type colCollector struct {
	*collector
	conv   vec.RowConv
	pushed *atomic.Int64
}

func (c *colCollector) PushColumns(b *vec.Batch) error {
	c.pushed.Add(1)
	return c.collector.Push(c.conv.Rows(b))
}

func (c *colCollector) AcceptsColumns() bool { return true }

var _ vec.Output = (*colCollector)(nil)

// TestGoldenColumnar runs the source goldens (reads, keys, metadata, bad records and their errors) again
// with an output that takes columns: the columnar read path must print exactly what the row path prints.
func TestGoldenColumnar(t *testing.T) {
	var pushed atomic.Int64
	for _, dir := range []string{"testdata/golden/source", "testdata/golden/bad-records"} {
		runGoldenWith(t, dir, func(h *harness) { h.columnar, h.pushed = true, &pushed })
	}
	if pushed.Load() == 0 {
		t.Fatal("no columnar batch was pushed")
	}
}
