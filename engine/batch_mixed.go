package engine

import (
	"fmt"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/planner"
)

// Keyed stages that read an input unpartitioned too, and the check of the order in which a stage's inputs
// are built.
//
// A keyed stage may read one of its inputs through a row-wise operator as well as by key: a reused result
// read by a hash join's side and by a UNION ALL over that join in the same stage (Union(Join(r, r), r)). The
// join's sides are read by key (a partitioning each, batch_reuse.go); the union's input is read unhashed. As
// P tasks, each row of that input must reach exactly one task (the union passes it on: read whole by every
// task it would come out P times; Flink broadcasts only to a join's broadcast side, never to a union). So
// the producer deals that input's rows round-robin into P subpartitions (a partitioning without keys, as a
// sink's rebalance), task i reading subpartition i. That holds only for an insert-only input: a changelog's
// -U and +U of one key dealt to two tasks would come out of order; such a stage stays one task.
//
// The check: a stage task reading one input by several edges (a self-join by two keys, the mixed stage above)
// takes the partitionings in the order planTasks walked its operators' inputs (stageBuild.nextInputSlot). The
// graph's build walks them in the same order today (a join's left then right, a union's inputs in order);
// were it ever to differ, an edge would silently read another key's partitioning. So every edge built is
// compared with the edge planned at its place: the operator whose build reached it (the innermost operator
// being built that has the input among its inputs), which of that operator's inputs it is, and the key
// columns of the partitioning it is given against the operator's keys for that input. A difference fails the
// build with an internal error naming both edges. Which input it is comes from the build itself: operators
// with several inputs (joins, unions) build them through graph.buildInputs, which records the input being
// built, so a build that took a join's right side first would be caught even for a self-join, whose two
// inputs are the same node (counting the edges reached under the operator would take the first for the
// left). Operators with one input build it directly; their input's index is its place among their inputs.

// planTasksHook, when set by a test, is called once planTasks has decided the tasks and partitionings (it
// may reorder a stage's planned edges to check that the build notices). It is nil in production.
var planTasksHook func(sj *stagedJob)

// dealable reports an unhashed edge of a keyed stage whose rows may be dealt round-robin to the stage's tasks:
// its input is insert-only.
func dealable(e stageEdge) bool {
	return e.in.root.Mode().IsInsertOnly()
}

// hashedEdge reports edges of which one at least is read by key: a keyed stage, not one of row-wise
// operators only (those read their inputs forward, or as one task: batch_forward.go).
func hashedEdge(es []stageEdge) bool {
	for _, e := range es {
		if e.hashed {
			return true
		}
	}
	return false
}

// buildOrderHook, when set by a test, gives the order in which buildInputs builds operator n's inputs (a
// permutation of their indexes), to check that the build order is checked. It is nil in production.
var buildOrderHook func(n planner.Node) []int

// buildInputs builds the inputs of operator n (a join's left and right, a union's inputs), input i into
// outs[i], in their order, recording in a stage's build which input is being built (checkEdge).
func (g *graph) buildInputs(n planner.Node, outs []changelog.Output, j *Job) error {
	ins := n.Inputs()
	order := make([]int, len(ins))
	for i := range order {
		order[i] = i
	}
	if buildOrderHook != nil {
		order = buildOrderHook(n)
	}
	for _, i := range order {
		if g.stage != nil {
			g.stage.inputs = append(g.stage.inputs, builtInput{n, i})
		}
		err := g.build(ins[i], outs[i], j)
		if g.stage != nil {
			g.stage.inputs = g.stage.inputs[:len(g.stage.inputs)-1]
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// builtInput is input index of operator parent, being built by buildInputs.
type builtInput struct {
	parent planner.Node
	index  int
}

// builtEdge is an operator and an input stage it reads, for counting the edges built under the operator.
type builtEdge struct {
	parent planner.Node
	in     *batchStage
}

// enter records that operator n is being built (graph.build); the returned function ends it.
func (b *stageBuild) enter(n planner.Node) func() {
	b.building = append(b.building, n)
	return func() { b.building = b.building[:len(b.building)-1] }
}

// nextInputSlot is the slot that the next edge built from input in reads (edges in the plan's input order),
// after checking that the edge being built is the one planned at that place.
func (b *stageBuild) nextInputSlot(in *batchStage) (int, error) {
	ks := b.st.inParts[in]
	if b.taken == nil {
		b.taken = map[*batchStage]int{}
	}
	i := b.taken[in]
	b.taken[in]++
	if i >= len(ks) {
		return inputSlot(in, 0, b.task), nil // not partitioned for this stage: forward, or all of it
	}
	if err := b.checkEdge(in, i); err != nil {
		return 0, err
	}
	return inputSlot(in, ks[i], b.task), nil
}

// checkEdge compares the edge of input in being built with the i-th edge planned for it.
func (b *stageBuild) checkEdge(in *batchStage, i int) error {
	want := b.st.inEdges[in][i]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("internal error: stage %d (%s)%s: the build reached the intermediate result of stage %d (%s) %s "+
			"where the plan has input %d of %s; its partitionings would be read in the wrong order, so the job stops rather "+
			"than join or group the wrong rows. Please report this; 'parallelism.default' = '1' avoids it",
			b.st.id, b.st.name, b.task.what(), in.id, in.name, fmt.Sprintf(format, args...), want.index, stageLabel(want.parent))
	}
	var parent planner.Node
	for j := len(b.building) - 1; j >= 0 && parent == nil; j-- {
		if slices.Contains(b.building[j].Inputs(), in.root) {
			parent = b.building[j]
		}
	}
	if parent == nil {
		return fail("outside of any operator reading it")
	}
	index := -1
	if k := len(b.inputs); k > 0 && b.inputs[k-1].parent == parent {
		index = b.inputs[k-1].index // the input buildInputs is building
	} else {
		// An operator that builds its input directly: its place among the operator's inputs (the first
		// time it is reached under the operator, the first such place, and so on).
		if b.under == nil {
			b.under = map[builtEdge]int{}
		}
		c := b.under[builtEdge{parent, in}]
		b.under[builtEdge{parent, in}]++
		for j, x := range parent.Inputs() {
			if x == in.root {
				if c == 0 {
					index = j
					break
				}
				c--
			}
		}
	}
	if parent != want.parent || index != want.index {
		return fail("as input %d of %s", index, stageLabel(parent))
	}
	var got []int
	if k := b.st.inParts[in][i]; k > 0 {
		got = in.hashed[k-1].keys
	} else {
		got = in.partKeys
	}
	keys, hashed := batchHashKeys(parent, index)
	if !hashed {
		keys = nil
	}
	if !slices.Equal(got, keys) {
		return fail("as input %d of %s partitioned by columns %v, not by its keys %v", index, stageLabel(parent), got, keys)
	}
	return nil
}
