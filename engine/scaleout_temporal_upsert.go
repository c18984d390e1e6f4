package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// Scale-out temporal joins over a versioned table that is a changelog (scaleout_temporal.go). A 'kafka'
// table in a changelog format (debezium-json, canal-json, maxwell-json) needs nothing more: stage 1 decodes
// its -U/+U/-D rows and repartitions them with their kinds, and stage 2's exec temporal join takes them as
// at P=1 (+I/+U a new version from its row time, -D the end of its key's version at its row time, -U
// ignored). An 'upsert-kafka' table is read at P=1 through a ChangelogNormalize on its PRIMARY KEY (below
// it the WATERMARK, above it Calcs): it keeps each key's last row, drops an upsert equal to it, and turns a
// tombstone (the key, NULL values) into a -D carrying the key's last row — so the version ends at that
// row's time, as in Flink. The member runs that normalize in stage 2, per repartition partition, in front
// of the join's versioned input (then the Calcs above it): the versioned rows are repartitioned by the
// join's right keys, which must all be PRIMARY KEY columns, so that every upsert and tombstone of a key
// reaches the one partition (in its source partition's order, as at P=1). The normalize's state (each
// key's last row, its own state encoding) is in the partition's changelog under namespace nsNormalize
// (key: nsNormalize, the normalize's namespace byte, its key); per transaction the member writes the keys
// whose row changed (exec.NormalizeKeyedOf), and a restore or a kept partition (scaleout_keep.go) brings
// it back with the join's state.

// nsNormalize is the changelog namespace of an upsert versioned table's normalize state.
const nsNormalize = 0xFD

// cutNormalize takes the ChangelogNormalize of an upsert-kafka versioned table into tj: the Calcs cut so
// far (above the normalize) run in stage 2 behind it; it returns the node below the normalize's Calcs
// (tj.mid[1] then holds the Calcs between the WATERMARK and the normalize).
func (tj *scaleOutTemporal) cutNormalize(cn *planner.ChangelogNormalize) (planner.Node, error) {
	if cn.Batch {
		return nil, fmt.Errorf("the temporal join's versioned table is read through a batch %s", cn.Describe())
	}
	tj.norm, tj.post, tj.mid[1] = cn, tj.mid[1], nil
	in := cn.Input.Fields()
	var pk []string
	for _, k := range cn.Keys {
		pk = append(pk, in[k].Name)
	}
	right := tj.join.Right.Fields()
	for _, k := range tj.join.RightKeys {
		c, ok := colBelowCalcs(k, tj.post)
		if !ok || !slices.Contains(cn.Keys, c) {
			return nil, fmt.Errorf("the temporal join's versioned table is an upsert table read through %s, and the join key '%s' is not one of its PRIMARY KEY columns (%s): a scale-out member partitions the versioned rows by the join key, so every join key on the versioned side must be a PRIMARY KEY column; join on the PRIMARY KEY columns only",
				cn.Describe(), right[k].Name, strings.Join(pk, ", "))
		}
		tj.repKeys = append(tj.repKeys, c)
	}
	return calcsDown(cn.Input, &tj.mid[1]), nil
}

// colBelowCalcs returns the input column of calcs (the lowest first) that their output column col passes
// through unchanged, if it does.
func colBelowCalcs(col int, calcs []*planner.Calc) (int, bool) {
	for i := len(calcs) - 1; i >= 0; i-- {
		if col >= len(calcs[i].Projects) {
			return 0, false
		}
		c, ok := expr.ColumnIndex(calcs[i].Projects[col])
		if !ok {
			return 0, false
		}
		col = c
	}
	return col, true
}

// normalizeVersions puts the upsert versioned table's normalize (and the Calcs above it) in front of the
// versioned input of a partition's temporal join ii, whose state snap is; it returns the partition's state,
// both operators', and makes ii note both operators' changed entries.
func (m *member) normalizeVersions(ii *intervalInputs, snap state.Snapshotter) (state.Snapshotter, error) {
	tj := m.plan.tmp
	out := ii.in[1]
	for i := len(tj.post) - 1; i >= 0; i-- {
		out = exec.NewCalc(tj.post[i].Projects, tj.post[i].Filter, out)
	}
	norm := exec.WithMessageColumns(exec.NewNormalize(exec.NormalizeConfig{Keys: tj.norm.Keys, Types: m.sideTypes[1]}, out), tj.norm.MetaCols)
	nk := exec.NormalizeKeyedOf(norm)
	ns, ok := norm.(state.Snapshotter)
	if nk == nil || !ok {
		return nil, fmt.Errorf("internal error: the normalize has no keyed state snapshots")
	}
	ii.in[1] = norm
	ii.keyed = &normalizedKeyed{join: ii.keyed, norm: nk}
	return &normalizedState{join: snap, norm: ns}, nil
}

// normalizedKeyed writes the changed entries of a partition's temporal join and of its normalize, the
// normalize's under nsNormalize.
type normalizedKeyed struct {
	join, norm exec.JoinKeyed
	w          nsWriter
}

func (k *normalizedKeyed) TrackChanges() {
	k.join.TrackChanges()
	k.norm.TrackChanges()
}

func (k *normalizedKeyed) SnapshotChanged(w exec.DeltaWriter) error {
	if err := k.join.SnapshotChanged(w); err != nil {
		return err
	}
	k.w.w = w
	return k.norm.SnapshotChanged(&k.w)
}

// nsWriter writes a normalize's entries under nsNormalize: the key is its namespace byte and its key.
type nsWriter struct {
	w  state.Writer
	kb []byte
}

func (w *nsWriter) Put(ns uint8, key, value []byte) error {
	w.kb = append(append(w.kb[:0], ns), key...)
	return w.w.Put(nsNormalize, w.kb, value)
}

func (w *nsWriter) Delete(ns uint8, key []byte) error {
	d, ok := w.w.(exec.DeltaWriter)
	if !ok {
		return fmt.Errorf("internal error: the writer of the normalize's entries cannot delete")
	}
	w.kb = append(append(w.kb[:0], ns), key...)
	return d.Delete(nsNormalize, w.kb)
}

// normalizedState is the state of a partition's temporal join and of its normalize.
type normalizedState struct {
	join, norm state.Snapshotter
}

func (s *normalizedState) SnapshotState(w state.Writer) error {
	if err := s.join.SnapshotState(w); err != nil {
		return err
	}
	return s.norm.SnapshotState(&nsWriter{w: w})
}

// RestoreState gives the entries under nsNormalize to the normalize (their own namespace and key, the
// operator-wide entry first) and the others to the join.
func (s *normalizedState) RestoreState(r state.Reader) error {
	join, norm := &entryReader{}, &entryReader{}
	for {
		ns, key, value, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if ns != nsNormalize {
			join.keys = append(join.keys, string(append([]byte{ns}, key...)))
			join.vals = append(join.vals, value)
			continue
		}
		if len(key) == 0 {
			return fmt.Errorf("restore the versioned table's normalize: an entry without a namespace")
		}
		norm.keys = append(norm.keys, string(key))
		norm.vals = append(norm.vals, value)
	}
	join.sortMetaFirst()
	norm.sortMetaFirst()
	if err := s.join.RestoreState(join); err != nil {
		return err
	}
	return s.norm.RestoreState(norm)
}
