package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Operator state (checkpoints and savepoints) goes through state.Writer / state.Reader. The conventions of
// every operator in this package:
//
//   - Keyed entries use the operator's logical key bytes as the state key (the GROUP BY, join, partition or
//     upsert key encoding the operator already computes with types.AppendKey), one entry per (namespace,
//     key), in namespaces 0..254. Operator-wide values (watermarks, counters, the operator's signature) are
//     one entry in namespace nsMeta with an empty key.
//   - Every value starts with the format version byte stateVersion; the rest is compact binary (varints,
//     the value encoding of rowcodec.go), without field names.
//   - The meta entry starts with the operator's signature (its kind and the parts of its configuration that
//     shape the state, e.g. the aggregate calls); a restore that meets another signature fails. The meta
//     entry is optional on restore (an instance restoring a subset of key groups may not receive it); the
//     operator-wide values then keep their initial values.
//   - RestoreState fails with an error wrapping state.ErrCorrupt that names the operator and what did not
//     fit: an unknown namespace, another format version, an undecodable value, a key that does not match its
//     values, another signature.

const (
	stateVersion byte  = 1
	nsMeta       uint8 = 255
)

// StateOf returns the operator whose state a checkpoint must hold for an Output returned by a constructor of
// this package, or nil when it keeps no state worth a checkpoint (stateless operators, and batch-mode
// operators, whose state the engine does not checkpoint).
//
// Operators with several inputs (NewJoin, NewTemporalJoin, NewUnion) return the same Snapshotter for every
// input: the engine must snapshot it once (deduplicate by the returned value, which is a pointer).
func StateOf(out changelog.Output) state.Snapshotter {
	switch o := out.(type) {
	case *Parallel:
		for _, s := range o.subs {
			if StateOf(s.op) == nil {
				return nil
			}
		}
		return o
	case *groupAgg:
		if o.cfg.Batch || o.cfg.Store != nil {
			return nil // batch: no state; Store: checkpointed by the Store's backend
		}
		return o
	case *joinInput:
		if o.j.cfg.Batch {
			return nil
		}
		return o.j
	case *temporalInput:
		return o.t
	case *unionInput:
		return o.u
	case *subtaskAssigners:
		return o
	case *windowJoinInput:
		return o.j
	case *rankOp:
		if o.cfg.Batch {
			return nil
		}
		return o
	case *miniBatchGroupAgg:
		return o
	case *normalize:
		if o.batch {
			return nil
		}
		return o
	case state.Snapshotter:
		return o
	}
	return nil
}

var (
	_ state.Snapshotter = (*groupAgg)(nil)
	_ state.Snapshotter = (*windowAgg)(nil)
	_ state.Snapshotter = (*sessionAssigner)(nil)
	_ state.Snapshotter = (*overAgg)(nil)
	_ state.Snapshotter = (*joinOp)(nil)
	_ state.Snapshotter = (*temporalJoin)(nil)
	_ state.Snapshotter = (*rankOp)(nil)
	_ state.Snapshotter = (*topN)(nil)
	_ state.Snapshotter = (*normalize)(nil)
	_ state.Snapshotter = (*watermarkAssigner)(nil)
	_ state.Snapshotter = (*limitOp)(nil)
	_ state.Snapshotter = (*union)(nil)
	_ state.Snapshotter = (*miniBatchGroupAgg)(nil)
)

// errBatchSnapshot is returned by SnapshotState of an operator in batch mode.
var errBatchSnapshot = errors.New("operators in batch mode keep no checkpointable state (state.backend is ignored in batch)")

// corrupt builds a restore error: "restore <op>: <what>: corrupt state".
func corrupt(op string, format string, args ...any) error {
	return fmt.Errorf("restore %s: %s: %w", op, fmt.Sprintf(format, args...), state.ErrCorrupt)
}

// entryError wraps a decoding error with the entry's namespace and key.
func entryError(op string, ns uint8, key []byte, err error) error {
	return corrupt(op, "entry (namespace %d, key %x): %v", ns, key, err)
}

// appendMeta appends the version byte and the operator's signature; operator-wide values follow.
func appendMeta(dst []byte, sig string) []byte {
	dst = append(dst, stateVersion)
	dst = binary.AppendUvarint(dst, uint64(len(sig)))
	return append(dst, sig...)
}

// readMetaAs checks the signature of a meta value with accept (sigMismatch: it must be the operator's; an
// operator may accept several, or refuse one with its own reason) and returns a decoder over the
// operator-wide values.
func readMetaAs(op string, value []byte, accept func(got string) error) (*stateDec, error) {
	d, err := newStateDec(value)
	if err != nil {
		return nil, corrupt(op, "operator-wide entry: %v", err)
	}
	if got := d.str(); d.err != nil {
		return nil, corrupt(op, "operator-wide entry: %v", d.err)
	} else if err := accept(got); err != nil {
		return nil, err
	}
	return d, nil
}

// sigMismatch is the error of a state written by an operator of signature got restored into one of sig
// (nil when they are the same).
func sigMismatch(op, got, sig string) error {
	if got == sig {
		return nil
	}
	return corrupt(op, "the state was written by %s, this operator is %s (the query changed; start it without this savepoint)", got, sig)
}

// stateDec decodes a state value; the first error sticks and later reads return zero values.
type stateDec struct {
	b   []byte
	err error
}

var (
	errStateShort  = errors.New("the value ends too early")
	errUndecodable = errors.New("a column value does not decode (truncated or not written by Sluice)")
)

// newStateDec checks the version byte of value and returns a decoder over the rest.
func newStateDec(value []byte) (*stateDec, error) {
	if len(value) == 0 {
		return nil, errors.New("empty value")
	}
	if value[0] != stateVersion {
		return nil, fmt.Errorf("format version %d, this build reads version %d", value[0], stateVersion)
	}
	return &stateDec{b: value[1:]}, nil
}

func (d *stateDec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *stateDec) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(errStateShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *stateDec) bool() bool { return d.byte() != 0 }

func (d *stateDec) varint() int64 {
	x, n := binary.Varint(d.b)
	if d.err != nil || n <= 0 {
		d.fail(errStateShort)
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *stateDec) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if d.err != nil || n <= 0 {
		d.fail(errStateShort)
		return 0
	}
	d.b = d.b[n:]
	return x
}

// count reads a uvarint element count, at most the bytes left (each element takes at least one byte).
func (d *stateDec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(fmt.Errorf("count %d exceeds the %d bytes left", n, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *stateDec) float() float64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail(errStateShort)
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *stateDec) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *stateDec) value() types.Value {
	if d.err != nil {
		return types.Value{}
	}
	v, rest, err := decodeValueBinary(d.b)
	if err != nil {
		d.fail(errUndecodable)
		return types.Value{}
	}
	d.b = rest
	return v
}

// row reads a row written by appendRowBinary.
func (d *stateDec) row() []types.Value {
	if d.err != nil {
		return nil
	}
	vals, rest, err := decodeRowBinary(d.b, nil)
	if err != nil {
		d.fail(errUndecodable)
		return nil
	}
	d.b = rest
	return vals
}

// acc loads an accumulator's state.
func (d *stateDec) acc(a accumulator) {
	if d.err != nil {
		return
	}
	rest, err := a.loadState(d.b)
	if err != nil {
		d.fail(err)
		return
	}
	d.b = rest
}

// done reports the decoding error, or an error when bytes are left over.
func (d *stateDec) done() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%d bytes left over after the value", len(d.b))
	}
	return nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// appendValue appends one value in the rowcodec encoding.
func appendValue(dst []byte, v types.Value) []byte { return appendValueBinary(dst, v) }

// restoreLoop reads every entry of r and hands it to fn. The operator-wide entry (nsMeta) must carry the
// signature sig; meta (when not nil) reads its values, which must end exactly there.
func restoreLoop(r state.Reader, op, sig string, meta func(d *stateDec), fn func(ns uint8, key, value []byte) error) error {
	return restoreLoopAs(r, op, func(got string) error { return sigMismatch(op, got, sig) }, meta, fn)
}

// restoreLoopAs is restoreLoop with the signature checked by accept (readMetaAs).
func restoreLoopAs(r state.Reader, op string, accept func(got string) error, meta func(d *stateDec), fn func(ns uint8, key, value []byte) error) error {
	for {
		ns, key, value, ok, err := r.Next()
		if err != nil {
			return fmt.Errorf("restore %s: %w", op, err)
		}
		if !ok {
			return nil
		}
		if ns == nsMeta {
			if len(key) != 0 {
				return corrupt(op, "operator-wide entry has a key (%x)", key)
			}
			d, err := readMetaAs(op, value, accept)
			if err != nil {
				return err
			}
			if meta != nil {
				meta(d)
			}
			if err := d.done(); err != nil {
				return corrupt(op, "operator-wide entry: %v", err)
			}
			continue
		}
		if err := fn(ns, key, value); err != nil {
			return err
		}
	}
}
