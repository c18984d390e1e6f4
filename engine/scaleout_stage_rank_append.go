package engine

import (
	"github.com/sluicesql/sluice/changelog"
)

// A later stage's Top-N over an insert-only input (docs/ARCHITECTURE.md "Scale-out over Kafka"): an INNER
// regular join of two insert-only scans produces only +I rows (the planner's changelog mode of the Top-N's
// input, as EXPLAIN CHANGELOG_MODE shows it), so, as Flink's AppendOnlyTopNFunction, a partition key's Top-N
// state is exactly its current top rows: a row pushed out of the top can never come back. The stage then
// runs the exec Rank with InsertOnly (rows past the limit are not kept) and, instead of mirroring every
// input row (scaleout_stage_rank.go), keeps the Rank's output as its changelog, as the first stage's Top-N
// of a table scan does (scaleout_rank.go, rankTracker): '<name>-rank<N>-changelog' holds one entry per
// partition key and row number (key: the PARTITION BY key and the row number, 8 bytes big-endian; value: the
// row in types.AppendRowBinary), written when the Rank emits +I for the number and tombstoned when it emits
// -D without a new row for it. The topic and the memory then hold at most N rows per partition key. A
// partition is restored by replaying each key's rows in row-number order (replayTop) into a new Rank whose
// output is discarded: ties keep arrival order and the replay gives tied rows in the order they were
// numbered, so the restored Rank holds the rows the sink got, in the same order, and its later changes
// continue them.

// newTopRankPart builds the stage's insert-only Top-N of one partition, its output (to out) and changelog
// entries dropped until its tracker is made live.
func (s *keyedStage) newTopRankPart(out changelog.Output) *stageRankPart {
	op, t := newTopRank(s.rank, s.inTypes, out)
	return &stageRankPart{op: op, track: t}
}

// saltTopRankState gives plan p another fingerprint when one of its later stages is a Top-N over an
// insert-only input: its changelog holds the top rows keyed by row number, where an earlier version of Sluice
// mirrored every row keyed by the row's identity, so the job's group, its internal records and a restore
// refuse the other version's records ("... was written by plan X, this process runs plan Y") instead of
// reading one format as the other.
func saltTopRankState(p *scaleOutPlan) {
	for _, l := range p.later {
		if l.rank != nil && l.rank.Input.Mode().IsInsertOnly() {
			p.fp = fingerprintOf(p.fp + " stage-rank-state=top-rows")
		}
	}
}
