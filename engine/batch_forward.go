package engine

import "github.com/sluicesql/sluice/planner"

// Forward stages (Flink's forward exchange between tasks of equal parallelism). A stage of row-wise
// operators only (Calc, Union, ...) that reads intermediate results is cut off from its input when that
// input is read by several branches (a reused source or view: its result is computed once): without a
// keyed operator of its own it has no key to split by, so it runs as as many tasks as its inputs, task i
// reading task i's file of each input alone (st.forward), e.g. the UNION ALL of two filters of one reused
// table. The input's tasks then write one file each (no subpartitions) when another reader needs it: every
// other reader of a reused result reads it forward too, or as one task reading all files, or by its key
// from a partitioning of its own (batch_reuse.go). A keyed stage above the forward stage gets its rows
// hashed from the forward stage's tasks, as from any other stage. A forward stage whose only input is one
// stage runs inside that stage's tasks (batch_fuse.go).

// stageEdge is one input of a stage: the stage whose file it reads, and the consumer's key columns it is
// hashed by (hashed false: the consumer's operator is not keyed).
type stageEdge struct {
	in     *batchStage
	keys   []int
	hashed bool
	parent planner.Node // the consumer's operator reading in
	index  int          // the input of parent that in is
}

// forwardTasks returns the number of tasks of a row-wise stage with inputs es that reads its inputs forward:
// the number of tasks of every input stage, when they are equal and none of them writes subpartitions;
// else 0 (a hashed input, inputs of different task counts, no input).
func forwardTasks(es []stageEdge) int {
	m := 0
	for _, e := range es {
		if e.hashed || e.in.parts > 1 || m != 0 && len(e.in.tasks) != m {
			return 0
		}
		m = len(e.in.tasks)
	}
	return m
}
