// Package crashtest holds Sluice's crash tests: real sql-client processes running Kafka jobs are killed with
// SIGKILL at random moments and restarted (from the latest checkpoint where the job checkpoints), against an
// in-process Kafka-protocol broker that outlives them; the tests then count what was lost, duplicated and
// wrong against an expectation computed in Go from the generated input. It has no library code.
//
// scenario_test.go is the harness of the stateful jobs (one file per feature group: GROUP BY with compact
// state, mini-batch and two-phase; TUMBLE, HOP, CUMULATE and SESSION windows; window SEMI/ANTI joins, Top-N
// and deduplication; interval joins; regular joins (inner, LEFT OUTER into a GROUP BY, over
// updating inputs); MATCH_RECOGNIZE; ORDER BY rowtime); the scenarios run in parallel with
// each other. batch_test.go kills a staged BATCH job and reruns it from scratch, at the default parallelism
// and at 2 and 3 with keyed stages as tasks (TestBatchStageKillParallel: kills aimed at the source tasks, the
// keyed tasks writing subpartition files and the sink stage; a killed run's committed output must be whole).
// batch_sink_kill_test.go kills the batch sink stage as 3 tasks while all write (-crash.commit-kills also
// at its commit, which is known to leave a partial result). joinstore_kill_test.go kills the insert-only join
// store over two topics at parallelism 2; proctime_kill_test.go processing-time TUMBLE windows behind the
// exchange (every order counted once across windows).
// filesystem_sink_kill_test.go kills the concurrent filesystem sink (part files written by 2 source
// subtasks) mid-stream and restores it from checkpoints. At parallelism ≥ 2 over
// 4-partition topics: exchange_test.go (keyed subtasks, two levels, rescaled between restarts),
// sink_materialize_kill_test.go (SinkUpsertMaterializer), twophase_kill_test.go (local aggregates in source
// subtasks, append and changelog, rescaled), temporal_kill_test.go (event-time temporal join behind the
// exchange), filesystem_kill_test.go (per-file watermarks of a monitored directory, TUMBLE counts into
// exactly-once Kafka); fed_test.go holds their shared feeding helpers. scaleout_test.go kills members of a
// scale-out group; scaleout_restart_kill_test.go kills random members and starts them again (the Top-N over
// a join, the GROUP BY over a Top-N); scaleout_backlog_kill_test.go does so inside a backlog that the members
// work off in transactions capped by 'sluice.scale-out.max-poll-records'.
//
// batch_jdbc_kill_test.go kills batch jobs writing PostgreSQL (a cluster of each test, pg_test.go) through
// 3 jdbc sink tasks, upsert and append; batch_union_kill_test.go a UNION ALL source stage into exactly-once
// kafka and into the filesystem sink; both through the kill loop of batch_kill_aims_test.go (kills aimed
// at moments of the run in turn, each named where it came).
//
// rank_update_kill_test.go kills a Top-N over a GROUP BY (retractions into the rank) at parallelism 1 and 2;
// window_late_kill_test.go kills HOP, CUMULATE and SESSION aggregates over out-of-order input with late rows
// (one partition, so that which rows are late does not depend on timing at parallelism 1).
//
// Every test runs in parallel with the others, 6 at a time unless -test.parallel is given (they mostly wait
// for kills and output; go test's default, GOMAXPROCS, left a 2-core machine idle), each against brokers
// of its own; every kill scenario that checkpoints fails when fewer than 2 runs (the last included) restored
// from a checkpoint (every other kill waits for the run's own first checkpoint, so that a slow machine does
// not push every kill before it). -crash.race builds the sql-client with -race (a client that reports a
// data race fails its test, internal/proctest); it is off in CI's race phase, which builds only this
// harness with -race: an instrumented client is too slow for the kill timings on a loaded machine.
//
// Flags: -crash.kills N sets the number of kills per scenario (CI default 8; use more for a nightly-style run);
// -crash.kills 0 runs each scenario once, unkilled, against the same expectation. -crash.norestore is a
// deliberate bug: killed jobs restart without their checkpoint, which the exactly-once scenarios must report.
package crashtest
