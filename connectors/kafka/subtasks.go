package kafka

import (
	"context"
	"fmt"
	"unicode/utf16"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
)

// Parallel source subtasks (connectors.ParallelSource): with parallelism n, n subtasks each run their own
// client and read the partitions they own, as Flink's KafkaSourceEnumerator assigns them: partition p of
// topic t goes to subtask ((hash(t)*31 & 0x7FFFFFFF) % n + p) % n, hash being Java's String.hashCode. Every
// subtask decodes with its own decoders (formats keep buffers). The position stays one map over all
// partitions (position.go), so checkpoints do not depend on the parallelism.

// ScanParallelism is Flink's 'scan.parallelism' (FLIP-367): the number of source subtasks.
var ScanParallelism = options.Int("scan.parallelism").
	Desc("The number of source subtasks; each reads a share of the partitions (default: the job's 'parallelism.default').")

var _ connectors.ParallelSource = (*source)(nil)

// checkScanParallelism refuses a 'scan.parallelism' below 1.
func checkScanParallelism(r *options.Resolved) error {
	if n, ok := ScanParallelism.Lookup(r); ok && n < 1 {
		return &options.Error{Keys: []string{ScanParallelism.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'scan.parallelism': '%d' must be at least 1", n)}
	}
	return nil
}

// Subtasks is 'scan.parallelism', else def; 1 when one split listener tracks the watermarks of every
// partition (SetSplitListener: a source read by several branches). With SetSubtaskSplitListeners every
// subtask has its own (splits.go).
func (s *source) Subtasks(def int) int {
	if s.splits != nil {
		return 1
	}
	if n, ok := ScanParallelism.Lookup(s.cfg.r); ok && n > 0 {
		return int(n)
	}
	return max(def, 1)
}

// RunSubtask runs subtask i of n (Run is subtask 0 of 1).
func (s *source) RunSubtask(ctx context.Context, out changelog.Output, i, n int) error {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("kafka table '%s': subtask %d of %d does not exist", s.cfg.table.Name, i, n)
	}
	return s.runSubtask(ctx, out, i, n)
}

// splitOwner is the subtask among n that reads partition p of topic (Flink's KafkaSourceEnumerator.getSplitOwner).
func splitOwner(topic string, p int32, n int) int {
	start := int((javaStringHash(topic) * 31 & 0x7FFFFFFF) % int32(n))
	return (start + int(p)) % n
}

// javaStringHash is Java's String.hashCode: over UTF-16 code units, with int32 overflow.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			a, b := utf16.EncodeRune(r)
			h = 31*h + int32(a)
			h = 31*h + int32(b)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// decoders returns the key and value decoders of subtask i: the table's own for subtask 0, fresh ones (with
// the same projection) for the others.
func (s *source) decoders(i int) (key, val formats.Decoder, err error) {
	c := s.cfg
	if c.key != nil {
		key = c.key.Decoder
	}
	val = c.value.Decoder
	if i == 0 || s.fresh == nil {
		return key, val, nil
	}
	fc, err := s.fresh()
	if err != nil {
		return nil, nil, fmt.Errorf("kafka table '%s': subtask %d: %w", c.table.Name, i+1, err)
	}
	if s.proj != nil {
		(&source{cfg: fc}).ApplyProjection(s.proj)
	}
	if fc.key != nil {
		key = fc.key.Decoder
	}
	return key, fc.value.Decoder, nil
}
