// Package state owns Sluice's operator state as it crosses a job's lifetime: key groups (the unit by which
// keyed state is split across parallel instances and processes), the Writer/Reader through which operators
// snapshot and restore their state, the on-disk checkpoint layout (Flink's <dir>/<job id>/chk-<n>/_metadata
// plus data files, written atomically) and the state backends ('hashmap' in memory; 'rocksdb', which in Sluice
// selects an embedded Pebble LSM on disk).
//
// It must not import the planner, the engine, connectors or exec: operators depend on it, not the reverse.
package state
