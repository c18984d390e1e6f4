package connectors

import (
	"context"

	"github.com/sluicesql/sluice/changelog"
)

// ParallelSource is implemented by sources that can run as several subtasks, each reading its own share of
// the splits (Flink's source readers; Kafka: topic partitions).
//
// Contract:
//   - Subtasks returns how many subtasks the source runs, given the job's default parallelism: its own
//     'scan.parallelism' when the table sets it, else def. It returns 1 when it must run as one instance
//     (e.g. when a SplitListener tracks watermarks per split). The engine calls it once, after
//     SetSplitListener and ApplyProjection, before RunSubtask.
//   - RunSubtask(ctx, out, i, n) is Run for subtask i of n: it reads only the splits that subtask i owns and
//     pushes their rows to out. The engine calls it concurrently for every i in [0, n), each with its own out
//     (a PositionedOutput: positions advance with PushThen exactly as for Run). A bounded subtask returns nil
//     once its splits are done (at once when it owns none); an unbounded one without splits waits for ctx.
//   - The source's position (Checkpointed) covers all splits, whatever the number of subtasks, so a
//     checkpoint taken at one parallelism restores at any other.
type ParallelSource interface {
	Subtasks(def int) int
	RunSubtask(ctx context.Context, out changelog.Output, i, n int) error
}
