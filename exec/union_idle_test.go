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
	step(ins[0].Watermark(100))           // input 1 and 2 have sent nothing: nothing forwarded
	step(ins[0].Watermark(IdleWatermark)) // the input with rows goes idle first: 1 and 2 still hold it
	step(ins[1].Watermark(IdleWatermark)) // 2 still active
	step(ins[2].Watermark(IdleWatermark), "wm 100")
	step(ins[2].Watermark(IdleWatermark)) // idle again: nothing
	step(ins[1].Watermark(90))            // active again below 100: not counted until caught up
	step(ins[1].Watermark(IdleWatermark)) // idle below the forwarded watermark: no flush
	step(ins[0].Watermark(150), "wm 150") // the only active input
	step(ins[0].Watermark(IdleWatermark)) // holds the minimum (150) but every other is below: max is 150
	step(ins[1].Watermark(200), "wm 200")
	if got := strings.Join(rec.log, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestUnionLastActiveGoesIdle: when the last active input goes idle while it holds the forwarded watermark,
// the union forwards the highest watermark of its running inputs (Flink's StatusWatermarkValve). Two source
// subtasks of a monitored directory: the one that finished first went idle at 4999 while the other still
// held the watermark at its last file's 3998; once that one is idle too, 4999 must be forwarded, or the
// windows up to it never fire (they did not before: the watermark stayed at 3998).
func TestUnionLastActiveGoesIdle(t *testing.T) {
	type step struct {
		in   int
		wm   int64
		want string // what the output gets ("": nothing)
	}
	idle := int64(IdleWatermark)
	cases := []struct {
		name  string
		n     int
		steps []step
	}{
		{"the holder goes idle last", 2, []step{
			{1, 4999, ""},
			{1, idle, ""},
			{0, 3998, "wm 3998"},
			{0, idle, "wm 4999"},
			{0, 4000, ""},        // active again below the forwarded watermark: not counted until caught up
			{1, 5000, "wm 5000"}, // the only counted input
			{0, 6000, ""},        // caught up; 1 (5000) holds the watermark
			{1, idle, "wm 6000"}, // 0 is the only active input
		}},
		{"an input that does not hold the watermark goes idle last", 3, []step{
			{0, 100, ""},
			{1, 50, ""},
			{2, 200, "wm 50"},
			{0, idle, ""},
			{1, idle, "wm 200"}, // the holder (50) went idle last: the highest, 200
			{2, idle, ""},
		}},
		{"some inputs still active", 3, []step{
			{0, 10, ""},
			{1, 20, ""},
			{2, 30, "wm 10"},
			{0, idle, "wm 20"}, // an active input is left: the minimum of the active ones
			{1, idle, "wm 30"},
		}},
	}
	for _, tc := range cases {
		rec := &unionRecorder{}
		ins := NewUnion(tc.n, rec)
		var want []string
		for _, s := range tc.steps {
			if err := ins[s.in].Watermark(s.wm); err != nil {
				t.Fatal(err)
			}
			if s.want != "" {
				want = append(want, s.want)
			}
		}
		if got := strings.Join(rec.log, "\n"); got != strings.Join(want, "\n") {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tc.name, got, strings.Join(want, "\n"))
		}
	}
}
