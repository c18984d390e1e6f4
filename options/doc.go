// Package options declares typed connector, format and session options and validates option maps the way
// Flink's FactoryUtil does: missing required options, unsupported options and bad values, each naming the
// option.
//
// A component declares each option once, as a typed key:
//
//	var RowsPerSecond = options.Long("rows-per-second").Default(10000).Desc("Rows per second to emit.")
//
// Its Decl drives validation (Validate), documentation (Describe) and typed access (RowsPerSecond.Get(r)).
// There are no string lookups of option values scattered through the code, and no package-level mutable
// state: keys are immutable values.
//
// It must not know about any connector or format.
package options
