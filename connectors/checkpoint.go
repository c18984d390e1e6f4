package connectors

import (
	"context"
	"time"

	"github.com/sluicesql/sluice/changelog"
)

// Checkpointed is implemented by sources whose read position can be snapshotted and restored, so that a job
// restored from a checkpoint continues exactly after the rows that the checkpoint's state contains.
//
// Contract (the engine calls these, never concurrently with each other):
//   - RestorePosition is called before Run with bytes that SnapshotPosition of the same table returned in an
//     earlier run; the source then starts from there instead of its startup mode. nil means start afresh
//     (the engine restarts a failed job before its first checkpoint with the same source).
//   - SnapshotPosition is called between pushes with the job's graph lock held. It must return the position
//     after the last batch whose Push completed. A source achieves this by advancing its position with
//     PushThen, which runs the advance inside the same critical section as the push.
//   - CheckpointComplete is called after the checkpoint whose SnapshotPosition returned pos is durable (or, with
//     checkpointing off, after every sink acknowledged the rows up to pos): the source may now publish the
//     position (Kafka: commit offsets to the consumer group). It may be called from another goroutine than Run.
type Checkpointed interface {
	SnapshotPosition() ([]byte, error)
	RestorePosition(pos []byte) error
	CheckpointComplete(ctx context.Context, pos []byte) error
}

// PositionPublisher is implemented by Checkpointed sources whose CheckpointComplete publishes the position
// outside the job (Kafka: commits offsets to the consumer group). PublishesPositions reports whether this
// table does (a kafka table without 'properties.group.id', or with auto-commit off, does not); the engine
// warns that the final positions were not published only for such sources.
type PositionPublisher interface {
	PublishesPositions() bool
}

// PositionedOutput is implemented by the Output the engine hands to a source's Run.
type PositionedOutput interface {
	// PushThen pushes b (nothing when it is empty) and, when the push succeeded, calls advance before any
	// checkpoint can see the state that b produced.
	PushThen(b *changelog.Batch, advance func()) error
}

// PushThen pushes b to out and then calls advance: atomically with respect to checkpoints when out is the
// engine's PositionedOutput, else simply after the push.
func PushThen(out changelog.Output, b *changelog.Batch, advance func()) error {
	if p, ok := out.(PositionedOutput); ok {
		return p.PushThen(b, advance)
	}
	if b.Len() > 0 {
		if err := out.Push(b); err != nil {
			return err
		}
	}
	advance()
	return nil
}

// CheckpointedSink is implemented by sink Outputs that take part in checkpoints (two-phase commit).
//
// Contract (the engine calls these in this order; Restore at most once, before the first Push):
//   - Restore(ctx, state, id): state is what PreCommit returned for checkpoint id in the run being restored,
//     or nil with id 0 for a fresh start. The sink finishes what that checkpoint pre-committed (exactly-once:
//     commits the pending transaction) and aborts what a crashed run left open after it (lingering
//     transactions of the same prefix).
//   - PreCommit(ctx, id) is called between pushes with the graph lock held: everything pushed so far must be
//     durable (at-least-once: acknowledged by the external system) or staged (exactly-once: written inside a
//     transaction that is not committed yet). Rows pushed after PreCommit belong to the next checkpoint. It
//     returns the state to store in checkpoint id (e.g. the pending transaction's identity), possibly nil.
//   - Commit(ctx, id) is called once checkpoint id is durable: the staged writes become visible. It may run
//     concurrently with pushes of the next checkpoint.
//   - A failure of PreCommit fails the checkpoint; a failure of Commit fails the job (the data is in the
//     checkpoint and is committed by Restore when the job is restored).
type CheckpointedSink interface {
	Restore(ctx context.Context, state []byte, checkpointID int64) error
	PreCommit(ctx context.Context, checkpointID int64) ([]byte, error)
	Commit(ctx context.Context, checkpointID int64) error
}

// Aborter is implemented by sink Outputs that can be closed without committing, when their job failed: what
// was not pre-committed is dropped (exactly-once: the open transaction is aborted) and clients are released.
// The engine calls Abort instead of End, at most once, when no other call is running.
type Aborter interface {
	Abort() error
}

// SplitListener receives a source's split events (Kafka: topic partitions) so that watermarks are generated
// per split and combined as their minimum, as Flink's per-split watermark outputs do: a partition that lags
// holds the watermark back instead of seeing its rows dropped as late.
//
// Contract: the source calls these from its Run goroutine. AddSplit announces a split before any of its
// rows; SplitRows says that the next Push carries rows of that split only; FinishSplit says that a bounded
// split has no more rows (it no longer holds the watermark back).
type SplitListener interface {
	AddSplit(id int)
	SplitRows(id int)
	FinishSplit(id int)
}

// SplitNamer is implemented by a SplitListener that keeps its per-split watermarks across a restart from a
// checkpoint: a source that can name its splits stably (across runs and parallelism; Kafka: topic and
// partition; nexmark: its generator; datagen: its range; filesystem: the file's relative path) calls NameSplit
// right after AddSplit. Restored, the split then starts from the watermark checkpointed under its name, so
// that a split whose rows were all read before the checkpoint does not hold the watermark back for good (its
// watermark is otherwise unknown until its next row). Finished splits are not checkpointed: a source restores
// them as finished from its position (it calls FinishSplit again, or does not announce them).
type SplitNamer interface {
	NameSplit(id int, name string)
}

// SplitSource is implemented by sources that read several splits and report them to a SplitListener. The
// engine calls SetSplitListener before Run when a watermark is defined on the source's table (nil: none).
// WatermarkIdleTimeout is the source's own idle timeout ('scan.watermark.idle-timeout'), when set: a split
// without rows for that long stops holding the watermark back until it has rows again.
//
// WatermarkAlignment is the source's alignment group and maximum drift ('scan.watermark.alignment.group',
// '.max-drift'), when set: the listener then also implements SplitAligner.
type SplitSource interface {
	SetSplitListener(l SplitListener)
	WatermarkIdleTimeout() (time.Duration, bool)
	WatermarkAlignment() (group string, maxDrift time.Duration, ok bool)
}

// SplitAligner is implemented by the SplitListener of a source in a watermark alignment group. Blocked
// appends to dst the splits whose watermark is more than the maximum drift ahead of the group's lowest
// watermark: the source pauses reading them until they are no longer blocked (Flink's split-level watermark
// alignment). It may be called from the source's goroutine at any time.
type SplitAligner interface {
	Blocked(dst []int) []int
}
