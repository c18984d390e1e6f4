// Package exec holds Sluice's runtime operators: push-based changelog.Output implementations that the
// engine wires into an operator graph (calc, group aggregate with retraction, sort with spilling, Top-N,
// limit, union, watermark assignment, counters).
//
// Every operator follows the changelog.Output contract: rows pushed to it are valid only during the call,
// so an operator that keeps a row copies its values, and the batches it pushes downstream are reused across
// pushes. Operators are not safe for concurrent use; the engine serializes calls. The package must not
// import the planner, the engine or connectors.
//
// Stateful operators implement state.Snapshotter (state.go describes the conventions of their entries);
// StateOf finds the Snapshotter behind any Output a constructor returned, or nil for stateless and
// batch-mode operators.
package exec
