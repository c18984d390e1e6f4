package exec

// tickTTL reads the clock for the join's TTL and drops the expired rows when a scan is due (ttl.go says
// what expires and when).
func (j *joinOp) tickTTL() {
	if !j.ttl.tick() {
		return
	}
	for s := range j.sides {
		st := &j.sides[s].st
		var dead [][]byte
		for i, v := range st.slots {
			if v == 0 {
				continue
			}
			r := st.record(i)
			kv := j.keyVals(r.key)
			if j.filterBucket(s, i, kv, func(it *jsIter) bool { return !j.ttl.expired(it.touched()) }) {
				dead = append(dead, r.key)
			}
		}
		j.deleteKeys(s, dead)
	}
}
