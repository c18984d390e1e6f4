// Package crashtest holds Sluice's crash tests: real sql-client processes running Kafka jobs are killed with
// SIGKILL at random moments and restarted (from the latest checkpoint where the job checkpoints), against an
// in-process Kafka-protocol broker that outlives them; the tests then count what was lost and what was
// duplicated. It has no library code.
//
// Flags: -crash.kills N sets the number of kills per scenario (CI default 8; use more for a nightly-style run).
package crashtest
