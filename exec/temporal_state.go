package exec

// Temporal joins behind an exchange (engine/exchange_ops.go): both inputs are routed by the join key, the
// left rows with a NULL key (which wait, and are emitted NULL-padded by a LEFT JOIN) by the regular join's
// NULL-key bucket (ExchangeSide.NullKey), so the state keys are the routing keys: the waiting left rows
// (namespace 1) by left join key or nullJoinKey, the versions (namespace 2) by right join key, and a
// checkpoint restores at any parallelism. The meta entry (watermarks, ended inputs) is the same in every
// subtask at a checkpoint: every subtask sees every watermark.

// isTemporalNullKey reports a state key of waiting left rows with a NULL join key: nullJoinKey, or the empty
// key of checkpoints written before the join ran behind an exchange.
func isTemporalNullKey(key []byte) bool { return len(key) == 0 || string(key) == nullJoinKey }

// migrateState moves the waiting left rows with a NULL join key of an older checkpoint (the empty key, which
// a restore behind an exchange would hand to every subtask, as it does the operator-wide entry) to
// nullJoinKey, the key their subtask owns.
func (t *temporalJoin) migrateState(es []stateEntry) ([]stateEntry, error) {
	for i, e := range es {
		if e.ns == 1 && len(e.key) == 0 {
			es[i].key = []byte(nullJoinKey)
		}
	}
	return es, nil
}
