package exec

import (
	"time"

	"github.com/sluicesql/sluice/changelog"
)

// NewProctimeClock drives processing-time windows (a window function over a PROCTIME() column): placed
// before the window assigner, it forwards rows and replaces its input's watermarks (event time, which
// processing-time windows ignore) by the processing-time clock: after every batch, and in place of every
// input watermark, it emits now - 1 ms on the wall clock of loc (as the windows of a TIMESTAMP_LTZ column
// are aligned), never going back. A window then fires once the clock has passed its end; as nothing runs
// between batches, a window whose end passes while no row or watermark arrives fires with the next one, or
// at the end of input. now is the clock PROCTIME() reads, so a row's window never closes before the row
// reaches it.
func NewProctimeClock(now func() time.Time, loc *time.Location, out changelog.Output) changelog.Output {
	if now == nil {
		now = time.Now
	}
	if loc == nil {
		loc = time.UTC
	}
	return &proctimeClock{now: now, loc: loc, out: out, wm: minWatermark}
}

type proctimeClock struct {
	now func() time.Time
	loc *time.Location
	out changelog.Output
	wm  int64
}

func (c *proctimeClock) tick() error {
	t := c.now()
	_, off := t.In(c.loc).Zone()
	wm := t.UnixMilli() + int64(off)*1000 - 1
	if wm <= c.wm {
		return nil
	}
	c.wm = wm
	return c.out.Watermark(wm)
}

func (c *proctimeClock) Push(b *changelog.Batch) error {
	if err := c.out.Push(b); err != nil {
		return err
	}
	return c.tick()
}

func (c *proctimeClock) Watermark(int64) error { return c.tick() }
func (c *proctimeClock) End() error            { return c.out.End() }
