package kafka

// retire stops fetching the partitions in done (bounded reads that reached their stop offsets).
//
// Removing partitions from a franz-go client drops every fetch it has buffered, for all partitions, and
// fetches them again: a bounded read of 4 partitions ending one after the other fetched and decompressed
// 2.5× its records (issue 14). So done partitions are paused at once (pausing keeps what is buffered for the
// others) and removed once nothing is buffered.
func (r *run) retire(done map[string][]int32) {
	if len(done) > 0 {
		r.cl.PauseFetchPartitions(done)
		if r.retired == nil {
			r.retired = map[string][]int32{}
		}
		for t, ps := range done {
			r.retired[t] = append(r.retired[t], ps...)
		}
	}
	if len(r.retired) > 0 && r.cl.BufferedFetchRecords() == 0 {
		r.cl.RemoveConsumePartitions(r.retired)
		r.retired = nil
	}
}
