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
// -U and +U of one key dealt to two tasks would come out of order. A changelog with an upsert key is hashed
// by that key instead (every change of a key through one task, in order); one without stays one task
// (changelogRead below, which also checks the changelogs a stage reads by key).
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

// stageRootsHook, when set by a test, is called with a batch job's plan before it is cut into stages (it may
// rewrite it in place: a shape the planner does not make today). It is nil in production.
var stageRootsHook func(roots []planner.Node)

// changelogRead decides, by the changelog its input carries, how a keyed stage running as several tasks
// reads edge e: the columns its rows are hashed by to the tasks (nil and hashed false: dealt round-robin), or
// why the stage must stay one task ("" when it need not).
//
//   - An insert-only input: as planned, hashed by the operator's keys, or dealt round-robin when a row-wise
//     operator reads it (each row alone; every row reaches one task).
//   - A changelog read by key: the operator keeps each of its keys apart, so its changes only need to reach
//     one task, in their order. A retract stream (every change carries its whole row, -U before +U) holds
//     that whatever the keys: the -U and +U of one row going to two tasks belong to two of the operator's
//     keys. An upsert stream (no -U; a -D may carry only its key) holds it only when the operator's keys
//     are among its upsert key's columns (a ChangelogNormalize on the upsert key, as the planner puts behind
//     an upsert-kafka scan); by other columns a key's -D could reach another task than its +U.
//   - A changelog read by a row-wise operator (a UNION ALL of it beside a join): its rows are hashed by its
//     upsert key, so every change of a key goes through one task, in its order (dealt round-robin, a key's
//     -U and +U, or +U and -D, could come out of two tasks in the other order). Without an upsert key (a
//     retract stream of whole rows) nothing keeps a key's changes together: one task.
func changelogRead(e stageEdge) (keys []int, hashed bool, reason string) {
	m := e.in.root.Mode()
	if m.IsInsertOnly() {
		return e.keys, e.hashed, ""
	}
	if e.hashed {
		if len(m.UpsertKey) > 0 && !m.Kinds.Has(changelog.UpdateBefore) {
			for _, k := range e.keys {
				if !slices.Contains(m.UpsertKey, k) {
					return nil, false, fmt.Sprintf("%s reads the upsert changelog of stage %d (%s) by columns %v, not among its upsert key's %v, so a key's changes could reach two tasks",
						stageLabel(e.parent), e.in.id, e.in.name, e.keys, m.UpsertKey)
				}
			}
		}
		return e.keys, true, ""
	}
	if len(m.UpsertKey) > 0 {
		return m.UpsertKey, false, "" // hashed by the upsert key, though not by the operator's keys
	}
	return nil, false, fmt.Sprintf("%s reads the changelog of stage %d (%s), which has no upsert key, row by row; dealt to several tasks, a row's -U and +U could come out in the other order",
		stageLabel(e.parent), e.in.id, e.in.name)
}

// unhashedKeys is the columns by which a row-wise operator's input in is hashed to a keyed stage's tasks:
// its upsert key when it is a changelog (changelogRead), else none (round-robin).
func unhashedKeys(in *batchStage) []int {
	if m := in.root.Mode(); !m.IsInsertOnly() {
		return m.UpsertKey
	}
	return nil
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
		keys = unhashedKeys(in)
	}
	if !slices.Equal(got, keys) {
		return fail("as input %d of %s partitioned by columns %v, not by its keys %v", index, stageLabel(parent), got, keys)
	}
	return nil
}
