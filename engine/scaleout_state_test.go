package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// mapWriter collects a full state snapshot.
type mapWriter map[string]string

func (w mapWriter) Put(ns uint8, key, value []byte) error {
	w[string(append([]byte{ns}, key...))] = string(value)
	return nil
}

// TestScaleOutIncrementalChangelog: after every transaction, the changelog as compaction keeps it (the last
// record per key, tombstones removing keys) equals the aggregate's full state snapshot, while each
// transaction writes only the groups it changed — in the compact representation (COUNT, SUM) and the map one
// (with MAX), with retractions that delete groups, and with a state TTL that drops idle groups.
func TestScaleOutIncrementalChangelog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxAgg bool
		ttl    time.Duration
	}{{"compact", false, 0}, {"map", true, 0}, {"map-ttl", true, 30 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := benchMember(tc.maxAgg)
			m.insertOnly = false
			m.s.ttl = tc.ttl
			compacted := map[string]string{}
			perTxn := 0
			m.produce = func(r *kgo.Record) {
				perTxn++
				if r.Value == nil {
					delete(compacted, string(r.Key))
				} else {
					compacted[string(r.Key)] = string(r.Value)
				}
				m.delivered(r, nil)
			}
			ap, err := m.newAggPart(0)
			if err != nil {
				t.Fatal(err)
			}
			touched := map[int32]*aggPart{0: ap}
			rng := rand.New(rand.NewPCG(3, 4))
			const users = 300
			live := map[int64][]int64{} // user → amounts accumulated and not retracted
			for txn := range 40 {
				var recs []*kgo.Record
				changed := map[int64]bool{}
				for range 1 + rng.IntN(30) {
					u := rng.Int64N(users)
					kind, amount := changelog.Insert, rng.Int64N(7)
					if a := live[u]; len(a) > 0 && rng.IntN(3) == 0 {
						kind, amount = changelog.Delete, a[len(a)-1]
						live[u] = a[:len(a)-1]
					} else {
						live[u] = append(live[u], amount)
					}
					changed[u] = true
					row := []types.Value{types.IntValue(u), types.IntValue(amount)}
					recs = append(recs, &kgo.Record{Key: types.AppendRowKey(nil, row, m.inTypes, m.plan.agg.Keys),
						Value: types.AppendRowBinary([]byte{byte(kind)}, row, m.inTypes), Headers: m.hdr})
				}
				if tc.ttl > 0 && txn%10 == 9 {
					time.Sleep(2 * tc.ttl) // every group idles past the TTL: the next push drops them all
					clear(live)
					changed = map[int64]bool{}
					recs = recs[:0]
					row := []types.Value{types.IntValue(users), types.IntValue(1)}
					recs = append(recs, &kgo.Record{Key: types.AppendRowKey(nil, row, m.inTypes, m.plan.agg.Keys),
						Value: types.AppendRowBinary([]byte{byte(changelog.Insert)}, row, m.inTypes), Headers: m.hdr})
				}
				perTxn = 0
				if err := m.aggregate(ap, recs); err != nil {
					t.Fatal(err)
				}
				groupsBefore := len(compacted)
				if err := m.writeChangelog(touched); err != nil {
					t.Fatal(err)
				}
				full := mapWriter{}
				if err := ap.snap.SnapshotState(full); err != nil {
					t.Fatal(err)
				}
				if got, want := fmt.Sprint(compacted), fmt.Sprint(map[string]string(full)); got != want {
					t.Fatalf("transaction %d: the compacted changelog holds %d entries, the state %d:\nchangelog %x\nstate     %x", txn, len(compacted), len(full), got, want)
				}
				limit := len(changed) + 1 // + the operator-wide entry, written once
				if tc.ttl > 0 {
					limit += groupsBefore // tombstones for expired groups (any transaction on a slow machine)
				}
				if perTxn > limit {
					t.Fatalf("transaction %d changed %d groups but wrote %d changelog records", txn, len(changed), perTxn)
				}
			}
		})
	}
}
