package exec

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// mapStore is a KeyValueStore over a Go map (the state backends are tested in package state).
type mapStore struct{ m map[string][]byte }

func (s *mapStore) Get(k []byte) ([]byte, bool, error) { v, ok := s.m[string(k)]; return v, ok, nil }
func (s *mapStore) Put(k, v []byte) error              { s.m[string(k)] = append([]byte(nil), v...); return nil }
func (s *mapStore) Delete(k []byte) error              { delete(s.m, string(k)); return nil }
func (s *mapStore) Scan(fn func(k, v []byte) error) error {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), s.m[k]); err != nil {
			return err
		}
	}
	return nil
}

// TestGroupAggStore: a group aggregate keeping its groups in a KeyValueStore (the 'rocksdb' backend's
// path) emits exactly the changelog of the in-memory one, with and without retractions.
func TestGroupAggStore(t *testing.T) {
	in := stateTestTypes()
	for seed := range uint64(200) {
		retract := seed%2 == 0
		rng := rand.New(rand.NewPCG(seed, 23))
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: stateTestAggs(t, in, retract), EmitUpdateBefore: seed%4 < 2, InsertOnly: !retract}
		batches := randomBatches(rng, retract)
		mem, kv := &recorder{}, &recorder{}
		op1, _ := NewGroupAgg(cfg, mem)
		cfg.Store = &mapStore{m: map[string][]byte{}}
		op2, err := NewGroupAgg(cfg, kv)
		if err != nil {
			t.Fatal(err)
		}
		for i := range batches {
			if err := op1.Push(&batches[i]); err != nil {
				t.Fatal(err)
			}
			if err := op2.Push(&batches[i]); err != nil {
				t.Fatal(err)
			}
		}
		if mem.b.String() != kv.b.String() {
			t.Fatalf("seed %d: in memory\n%s\nwith a store\n%s", seed, mem.b.String(), kv.b.String())
		}
		if StateOf(op2) != nil {
			t.Fatal("a group aggregate with a Store reports Snapshotter state")
		}
	}
}
