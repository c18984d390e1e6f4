// Package sql is Sluice's Flink-dialect SQL front end: a hand-written lexer, a recursive-descent parser with
// precedence climbing for expressions, script splitting, the AST and positions in the user's original text.
//
// Why a hand-written parser: the project card named github.com/pingcap/tidb/pkg/parser, but that grammar is
// MySQL's. It rejects most of what a Flink user writes every day: WITH ('k' = 'v') after the column list,
// the STRING type, METADATA FROM, PRIMARY KEY ... NOT ENFORCED, WATERMARK FOR, SET 'k' = 'v',
// CAST(x AS STRING), TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), ...)), FOR SYSTEM_TIME AS OF and LATERAL TABLE.
// Pre-processing the text for one grammar and patching the rest with a second one, then translating
// positions back, would cost more than one small parser that owns its positions and its error messages.
// So this package has no third-party parser and exposes none: every node carries the position of its first
// token in the original script, and errors read like Flink's (Calcite's) but name a line and column the user
// can find.
//
// The package must not resolve names or types against a catalog; that is the planner's job.
package sql
