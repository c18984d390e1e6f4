// Package crashtest holds Sluice's crash tests: real sql-client processes running Kafka jobs are killed with
// SIGKILL at random moments and restarted (from the latest checkpoint where the job checkpoints), against an
// in-process Kafka-protocol broker that outlives them; the tests then count what was lost, duplicated and
// wrong against an expectation computed in Go from the generated input. It has no library code.
//
// scenario_test.go is the harness of the stateful jobs (one file per feature group: GROUP BY with compact
// state, mini-batch and two-phase; TUMBLE, HOP, CUMULATE and SESSION windows; window SEMI/ANTI joins, Top-N
// and deduplication; interval joins; regular joins (inner, LEFT OUTER into a GROUP BY, over
// updating inputs); MATCH_RECOGNIZE; ORDER BY rowtime); the scenarios run in parallel with
// each other. batch_test.go kills a staged BATCH job and reruns it from scratch. At parallelism ≥ 2 over
// 4-partition topics: exchange_test.go (keyed subtasks, two levels, rescaled between restarts),
// sink_materialize_kill_test.go (SinkUpsertMaterializer), twophase_kill_test.go (local aggregates in source
// subtasks, append and changelog, rescaled), temporal_kill_test.go (event-time temporal join behind the
// exchange), filesystem_kill_test.go (per-file watermarks of a monitored directory, TUMBLE counts into
// exactly-once Kafka); fed_test.go holds their shared feeding helpers. scaleout_test.go kills members of a
// scale-out group.
//
// Flags: -crash.kills N sets the number of kills per scenario (CI default 8; use more for a nightly-style run).
package crashtest
