// Package types owns Sluice's SQL type system and values: logical types (Type), the Value representation,
// and everything that depends only on them — Flink-compatible DECIMAL arithmetic and result-type rules,
// date/time parsing and formatting, CAST semantics, CAST-to-STRING and print text, ordering, grouping
// equality, order-preserving key encoding and binary serialization for state.
//
// It must not depend on any other Sluice package, hold mutable package state, or know about plans,
// operators, connectors or formats. Functions here are pure and safe for concurrent use; the scalar paths
// (arithmetic on small decimals, key encoding and text of scalars) do not allocate when given a buffer.
//
// Semantics follow Flink 1.15+ where Flink defines them. Deliberate differences are documented on the
// function concerned (Cast reports numeric overflow as an error instead of wrapping or returning NULL).
package types
