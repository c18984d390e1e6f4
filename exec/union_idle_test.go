package exec

import (
	"strings"
	"testing"
)

// When the last active input of a union goes idle while it holds the minimum, the highest watermark of the
// running inputs goes out (Flink's StatusWatermarkValve flushes all channels when they are all idle): the
// input with rows went idle first, an empty input that never sent a watermark after it. Without the flush
// the watermark would stay at the empty input's forever.
func TestUnionAllIdleFlushesMax(t *testing.T) {
	rec := &unionRecorder{}
	ins := NewUnion(3, rec)
	var want []string
	step := func(err error, w ...string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, w...)
	}
	step(ins[0].Watermark(100))          // input 1 and 2 have sent nothing: nothing forwarded
	step(ins[0].Watermark(IdleWatermark)) // the input with rows goes idle first: 1 and 2 still hold it
	step(ins[1].Watermark(IdleWatermark)) // 2 still active
	step(ins[2].Watermark(IdleWatermark), "wm 100")
	step(ins[2].Watermark(IdleWatermark)) // idle again: nothing
	step(ins[1].Watermark(90))           // active again below 100: not counted until caught up
	step(ins[1].Watermark(IdleWatermark)) // idle below the forwarded watermark: no flush
	step(ins[0].Watermark(150), "wm 150") // the only active input
	step(ins[0].Watermark(IdleWatermark)) // holds the minimum (150) but every other is below: max is 150
	step(ins[1].Watermark(200), "wm 200")
	if got := strings.Join(rec.log, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
