package kafka

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
)

// Per-partition watermarks: every partition the source reads is a split (connectors.SplitSource). The source
// announces partitions as it assigns them, pushes each partition's rows of a poll as a batch of their own
// preceded by SplitRows, and reports bounded partitions that are done. With an idle timeout it also pushes
// an empty batch when a poll returns nothing, so that the watermark assigner notices idle partitions.

var _ connectors.SplitSource = (*source)(nil)

var _ connectors.SubtaskSplitSource = (*source)(nil)

// SetSplitListener is called by the engine before Run when the table has a watermark.
func (s *source) SetSplitListener(l connectors.SplitListener) { s.splits = l }

// SetSubtaskSplitListeners gives every subtask its own split listener (connectors.SubtaskSplitSource): the
// watermark assigner chained into that subtask. Split ids are per subtask (each run numbers its own).
func (s *source) SetSubtaskSplitListeners(ls []connectors.SplitListener) { s.subSplits = ls }

// splitListener is the split listener of subtask sub of nsub: its own, else the table's (nil: none).
func (s *source) splitListener(sub, nsub int) connectors.SplitListener {
	if len(s.subSplits) == nsub && sub < nsub {
		return s.subSplits[sub]
	}
	return s.splits
}

// WatermarkIdleTimeout is 'scan.watermark.idle-timeout' when the table sets it.
func (s *source) WatermarkIdleTimeout() (time.Duration, bool) {
	return WatermarkIdleTimeout.Lookup(s.cfg.r)
}

// tick pushes an empty batch so that the watermark assigner re-evaluates idle partitions.
func (r *run) tick(out changelog.Output) error {
	if r.splits == nil {
		return nil
	}
	r.batch.Reset()
	return out.Push(&r.batch)
}

// checkIdleTimeout refuses a negative 'scan.watermark.idle-timeout'.
func checkIdleTimeout(c *tableConfig) error {
	if d, ok := WatermarkIdleTimeout.Lookup(c.r); ok && d < 0 {
		return &options.Error{Keys: []string{WatermarkIdleTimeout.Key()},
			Msg: "Invalid value for option 'scan.watermark.idle-timeout': it must not be negative"}
	}
	return nil
}

// checkAlignment validates the watermark alignment options: group and max-drift go together, durations are
// positive, and the table has a watermark to align.
func checkAlignment(c *tableConfig) error {
	group, hasGroup := AlignmentGroup.Lookup(c.r)
	drift, hasDrift := AlignmentMaxDrift.Lookup(c.r)
	interval, hasInterval := AlignmentUpdateInterval.Lookup(c.r)
	keys := []string{AlignmentGroup.Key(), AlignmentMaxDrift.Key()}
	switch {
	case hasGroup && strings.TrimSpace(group) == "":
		return &options.Error{Keys: keys[:1], Msg: "Invalid value for option 'scan.watermark.alignment.group': it must not be empty"}
	case hasGroup && !hasDrift:
		return &options.Error{Keys: keys, Msg: "Option 'scan.watermark.alignment.group' needs 'scan.watermark.alignment.max-drift' (e.g. '1 min')"}
	case hasDrift && !hasGroup:
		return &options.Error{Keys: keys, Msg: "Option 'scan.watermark.alignment.max-drift' needs 'scan.watermark.alignment.group' (the name of the alignment group)"}
	case hasDrift && drift <= 0:
		return &options.Error{Keys: keys[1:], Msg: "Invalid value for option 'scan.watermark.alignment.max-drift': it must be positive"}
	case hasInterval && !hasGroup:
		return &options.Error{Keys: []string{AlignmentUpdateInterval.Key()}, Msg: "Option 'scan.watermark.alignment.update-interval' needs 'scan.watermark.alignment.group' and 'scan.watermark.alignment.max-drift'"}
	case hasInterval && interval <= 0:
		return &options.Error{Keys: []string{AlignmentUpdateInterval.Key()}, Msg: "Invalid value for option 'scan.watermark.alignment.update-interval': it must be positive"}
	case hasGroup && c.table.Watermark == nil:
		return &options.Error{Keys: keys[:1], Msg: fmt.Sprintf("Option 'scan.watermark.alignment.group' needs a watermark: table '%s' has no WATERMARK FOR clause", c.table.Name)}
	}
	return nil
}

// WatermarkAlignment returns the table's alignment group and maximum drift, when it has one.
func (s *source) WatermarkAlignment() (string, time.Duration, bool) {
	g, ok := AlignmentGroup.Lookup(s.cfg.r)
	if !ok {
		return "", 0, false
	}
	return g, AlignmentMaxDrift.Get(s.cfg.r), true
}

// align pauses the partitions that alignment blocks and resumes those it no longer blocks.
func (r *run) align() {
	a, ok := r.splits.(connectors.SplitAligner)
	if !ok {
		return
	}
	r.blocked = a.Blocked(r.blocked[:0])
	want := make(map[int]bool, len(r.blocked))
	for _, id := range r.blocked {
		want[id] = true
	}
	var pause, resume map[string][]int32
	for _, st := range r.parts {
		if st.done {
			continue
		}
		switch {
		case want[st.split] && !st.paused:
			if pause == nil {
				pause = map[string][]int32{}
			}
			pause[st.tp.topic] = append(pause[st.tp.topic], st.tp.partition)
			st.paused = true
		case !want[st.split] && st.paused:
			if resume == nil {
				resume = map[string][]int32{}
			}
			resume[st.tp.topic] = append(resume[st.tp.topic], st.tp.partition)
			st.paused = false
		}
	}
	if pause != nil {
		r.cl.PauseFetchPartitions(pause)
	}
	if resume != nil {
		r.cl.ResumeFetchPartitions(resume)
	}
}
