// Package changelog owns the changelog contract: row kinds, changelog modes, rows and batches, and the push
// interface every operator, source and sink speaks. It must not import the planner or connectors.
package changelog

import (
	"strings"

	"github.com/sluicesql/sluice/types"
)

// Kind is the change a row carries, as Flink's RowKind.
type Kind uint8

const (
	Insert       Kind = iota // +I
	UpdateBefore             // -U
	UpdateAfter              // +U
	Delete                   // -D
)

// String returns the short form: +I, -U, +U, -D.
func (k Kind) String() string {
	switch k {
	case Insert:
		return "+I"
	case UpdateBefore:
		return "-U"
	case UpdateAfter:
		return "+U"
	case Delete:
		return "-D"
	}
	return "?"
}

// IsAccumulate reports +I and +U; IsRetract reports -U and -D.
func (k Kind) IsAccumulate() bool { return k == Insert || k == UpdateAfter }
func (k Kind) IsRetract() bool    { return k == UpdateBefore || k == Delete }

// KindSet is a set of kinds (bit i = Kind i).
type KindSet uint8

func KindsOf(ks ...Kind) KindSet {
	var s KindSet
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s KindSet) Has(k Kind) bool         { return s&(1<<k) != 0 }
func (s KindSet) Union(o KindSet) KindSet { return s | o }
func (s KindSet) Contains(o KindSet) bool { return s&o == o }

// String prints the set as Flink's EXPLAIN CHANGELOG_MODE does: "I", "I,UB,UA", "I,UA,D", "I,UB,UA,D".
func (s KindSet) String() string {
	var parts []string
	for k, name := range []string{"I", "UB", "UA", "D"} {
		if s.Has(Kind(k)) {
			parts = append(parts, name)
		}
	}
	return strings.Join(parts, ",")
}

// Mode is the changelog mode of a stream: the kinds it may carry and, for upsert streams (updates without
// -U), the key columns by which +U and -D rows replace earlier rows.
type Mode struct {
	Kinds     KindSet
	UpsertKey []int
}

var (
	InsertOnly = Mode{Kinds: KindsOf(Insert)}
	Retract    = Mode{Kinds: KindsOf(Insert, UpdateBefore, UpdateAfter, Delete)}
	AllKinds   = Retract
)

// Upsert returns the upsert mode keyed on key: +I, +U, -D.
func Upsert(key []int) Mode {
	return Mode{Kinds: KindsOf(Insert, UpdateAfter, Delete), UpsertKey: key}
}

func (m Mode) IsInsertOnly() bool { return m.Kinds == KindsOf(Insert) }
func (m Mode) HasUpdates() bool   { return m.Kinds.Has(UpdateAfter) || m.Kinds.Has(UpdateBefore) }
func (m Mode) String() string     { return m.Kinds.String() }

// Row is one change: a kind and values. Rows handed to an Output are only valid during the call.
type Row struct {
	Kind Kind
	Vals []types.Value
}

// Batch is a group of rows pushed together. Operators may process it row by row.
type Batch struct {
	Rows []Row
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() { b.Rows = b.Rows[:0] }

// Append adds a row (the caller keeps ownership of vals until the batch is pushed).
func (b *Batch) Append(k Kind, vals []types.Value) { b.Rows = append(b.Rows, Row{Kind: k, Vals: vals}) }

// Len is the number of rows.
func (b *Batch) Len() int { return len(b.Rows) }

// MaxWatermark is the watermark emitted at end of input in batch mode, and by bounded sources when they end.
const MaxWatermark = int64(1<<63 - 1)

// Output receives a changelog stream pushed by an upstream.
//
// Contract:
//   - Push delivers rows in order. The batch, its rows and their value slices belong to the caller and are
//     valid only during the call: a receiver that keeps a row must copy its Vals (CopyVals).
//   - Within one Push, and across pushes, a -U row is immediately followed by its +U row.
//   - Watermark is called with non-decreasing event-time milliseconds; it means no later row has a smaller
//     event time (late rows may still come and are the receiver's to drop).
//   - End is called exactly once, when the input is exhausted (bounded input, or a cancelled job after a final
//     flush). After End nothing else is called. A receiver flushes what it buffers and calls End downstream.
//   - All methods are called from one goroutine at a time.
type Output interface {
	Push(b *Batch) error
	Watermark(ts int64) error
	End() error
}

// CopyVals returns a copy of vals that the caller may keep.
func CopyVals(vals []types.Value) []types.Value {
	out := make([]types.Value, len(vals))
	copy(out, vals)
	return out
}
