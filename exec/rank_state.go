package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Rank state: namespace 0, one entry per partition key with the partition's rows in order:
//
//	version, varint last change (Unix ms, for the state TTL; 0 without one), uvarint rows, each: uvarint
//	arrival number, row
//
// and in the meta entry the last arrival number. A processing-time keep-first deduplication
// (RankConfig.KeepFirst) writes its partitions with no rows (0): the key was seen and its row emitted
// (rankStore.seenOnly); it restores the older savepoints, which hold the first row, as such flags, and any
// other Rank refuses an entry without rows. What was emitted is not stored: between pushes it is
// always the partition's current top rows, recomputed on restore.
//
// Over an insert-only input with a limit (trim: a Top-N per partition, or a deduplication) the snapshot holds
// only each partition's top rows (a processing-time keep-first deduplication: only its keys), and since
// December 2026 the signature says so (", insertOnly=true"), as the global Top-N's does: the Rank of an
// updating input refuses such a snapshot (rankOp.trimmedRefused), and the Rank of an insert-only input
// restores a snapshot of the other signature (an updating input's, holding every row) dropping the rows
// past its limit. Deduplications are such Ranks too: over an insert-only input a partition keeps the one
// row it emitted, while ROW_NUMBER() = 1 over an updating input (which Flink does not plan as a
// deduplication) keeps every row, since a retraction of the first brings back the next. Snapshots of
// trimmed Ranks taken before December 2026 have the other signature, so they restore into either as
// before: the version cannot tell them apart. Versions before December 2026 do not restore the snapshot of
// a trimmed Rank (the signature differs).

// signature is the operator's (signatureOf(r.trim)).
func (r *rankOp) signature() string { return r.signatureOf(r.trim) }

// signatureOf is the signature of the Rank keeping all its rows, or (trimmed) only each partition's top
// rows.
func (r *rankOp) signatureOf(trimmed bool) string {
	s := fmt.Sprintf("Rank(func=%q, partition=%d, order=%d, limit=%d, rowNumber=%t)",
		r.cfg.Func, len(r.cfg.Partition), len(r.cfg.Order), r.cfg.Limit, r.cfg.RowNumber)
	if trimmed {
		s = trimmedSig(s)
	}
	return s
}

// acceptSignature checks the signature of a snapshot (restoreLoopAs), as topN.acceptSignature does.
func (r *rankOp) acceptSignature(got string) error {
	return acceptTrimmed(got, r.signatureOf(false), r.trim, r.trimmedRefused)
}

// trimmedRefused is the error of a trimmed snapshot (an insert-only input's) restored into the Rank of an
// updating input.
func (r *rankOp) trimmedRefused() error {
	op := r.signatureOf(false)
	if r.cfg.Limit == 1 && (r.cfg.Func == "" || r.cfg.Func == "ROW_NUMBER") {
		return trimmedRefused(op, "deduplication (ROW_NUMBER() = 1)",
			"the row it kept for each key (a keep-first deduplication on processing time: only the keys it saw)",
			"result")
	}
	holds := fmt.Sprintf("the first %d rows of each partition", r.cfg.Limit)
	if r.cfg.Func == "RANK" || r.cfg.Func == "DENSE_RANK" {
		holds = fmt.Sprintf("the rows of each partition ranked up to %d", r.cfg.Limit)
	}
	return trimmedRefused(op, "Top-N", holds, "top rows of a partition")
}

func (r *rankOp) SnapshotState(w state.Writer) error {
	if r.cfg.Batch {
		return fmt.Errorf("snapshot %s: %w", r.signature(), errBatchSnapshot)
	}
	if err := w.Put(nsMeta, nil, binary.AppendUvarint(appendMeta(nil, r.signature()), r.seq)); err != nil {
		return err
	}
	var vb []byte
	p := &r.part
	for slot, v := range r.st.st.slots {
		if v == 0 {
			continue
		}
		r.st.load(slot, p)
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendVarint(vb, p.touched)
		vb = binary.AppendUvarint(vb, uint64(p.count()))
		p.each(func(e rEnt) bool {
			vb = binary.AppendUvarint(vb, e.seq())
			vb = append(vb, r.st.row(&e)...)
			return true
		})
		r.sbuf = r.snapshotKey(r.sbuf[:0], slot, p)
		if err := w.Put(0, r.sbuf, vb); err != nil {
			return err
		}
	}
	return nil
}

func (r *rankOp) RestoreState(rd state.Reader) error {
	op := r.signature()
	if r.cfg.Batch {
		return fmt.Errorf("restore %s: %w", op, errBatchSnapshot)
	}
	var ents []rEnt
	return restoreLoopAs(rd, op, r.acceptSignature, func(d *stateDec) {
		r.seq = max(r.seq, d.uvarint())
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		bad := func(format string, args ...any) error { return entryError(op, ns, key, fmt.Errorf(format, args...)) }
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		touched := d.varint()
		n := d.count()
		ents = ents[:0]
		for range n {
			seq := d.uvarint()
			vals := d.row()
			if d.err != nil {
				break
			}
			if !keyColsFit(vals, r.cfg.Partition) || !sortColsFit(vals, r.cfg.Order) {
				return bad("a row has %d columns, fewer than the operator reads", len(vals))
			}
			r.kbuf = appendGroupKey(r.kbuf[:0], vals, r.cfg.Partition, r.ptypes)
			if !bytes.Equal(r.kbuf, key) {
				return bad("the key does not match the partition of its rows")
			}
			b := r.sortKey(nil, vals)
			ol := len(b)
			b = appendSeq(b, seq)
			sl := len(b)
			b = appendRowBinary(b, vals)
			ents = append(ents, rEnt{sk: b[:sl:sl], row: b[sl:], ol: ol})
			r.seq = max(r.seq, seq)
		}
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		seen := len(ents) == 0 // a keep-first deduplication's flag: the key only
		if seen && !r.keepFirst {
			return bad("a partition without rows (a keep-first deduplication's key: only a processing-time keep-first deduplication restores it; restore the savepoint into the query that took it)")
		}
		skey := key
		if seen {
			var ok bool
			if r.sbuf, ok = r.compactKeyOf(r.sbuf[:0], key); !ok {
				return bad("the key is not a key of the partition columns (%d of them)", len(r.cfg.Partition))
			}
			skey = r.sbuf
		} else if r.compactKey {
			r.sbuf = r.partKey(r.sbuf[:0], rankDecodeRow(ents[0].row, r.dec))
			skey = r.sbuf
		}
		h := r.st.st.hash(skey)
		if _, dup := r.st.st.find(skey, h); dup {
			return corrupt(op, "key %x appears twice", key)
		}
		sort.Slice(ents, func(i, j int) bool { return bytes.Compare(ents[i].sk, ents[j].sk) < 0 })
		p := &rankPart{slot: -1, touched: touched, ents: ents, seen: seen}
		if r.trim {
			r.newTop, r.newNum = r.top(p, r.newTop, r.newNum)
			truncatePart(&r.st, p, len(r.newTop))
		}
		r.st.save(skey, h, p)
		return nil
	})
}

// sortColsFit reports whether row has every sort column.
func sortColsFit(row []types.Value, keys []SortKey) bool {
	for _, k := range keys {
		if k.Col < 0 || k.Col >= len(row) {
			return false
		}
	}
	return true
}

// Top-N state (a global operator: it runs with parallelism 1): namespace 0, one entry per kept row, keyed
// by the row's sort key followed by its 8-byte big-endian arrival number (its place in the order); the
// value is the version and the row. The meta entry holds the last arrival number and, with a state TTL,
// the varint time of the last change (Unix ms; absent in snapshots taken without a TTL). Over an
// insert-only input with a limit the operator keeps (and writes) only the first offset+limit rows, and its
// signature says so (", insertOnly=true"; since December 2026): such a snapshot restores only into the
// Top-N of an insert-only input, since an updating input's would miss the rows a retraction brings back
// into the window (acceptTrimmed, trimmedRefused). A snapshot of the other signature holding more rows
// (taken by the Top-N of an updating input, or by a version that kept every row) restores into either, and
// an insert-only one drops the rows past its window. Snapshots of trimmed Top-Ns taken before December 2026
// have the other signature, so they restore into either as before: the version cannot tell them apart.
// Versions before December 2026 do not restore the snapshot of a trimmed Top-N (the signature differs).

// signature is the operator's (signatureOf(t.trim)).
func (t *topN) signature() string { return t.signatureOf(t.trim) }

// signatureOf is the signature of the operator keeping all its rows, or (trimmed) only its window's: an
// insert-only input with a limit.
func (t *topN) signatureOf(trimmed bool) string {
	s := fmt.Sprintf("TopN(keys=%d, offset=%d, end=%d)", len(t.keys), t.offset, t.end)
	if trimmed {
		s = trimmedSig(s)
	}
	return s
}

// acceptSignature checks the signature of a snapshot (restoreLoopAs): the operator's own, or the one that
// keeps every row (the snapshot of an updating input's Top-N, or of a version before December 2026), which
// a trimmed Top-N trims as it restores; a trimmed snapshot restored into a Top-N that keeps every row is
// refused.
func (t *topN) acceptSignature(got string) error {
	return acceptTrimmed(got, t.signatureOf(false), t.trim, func() error {
		return trimmedRefused(t.signatureOf(false), "Top-N", fmt.Sprintf("the first %d rows of the order", t.end), "window")
	})
}

// trimmedSig is the signature of an operator that over an insert-only input with a limit keeps only its
// top rows: its signature full (keeping every row, "Name(...)") with ", insertOnly=true".
func trimmedSig(full string) string { return strings.TrimSuffix(full, ")") + ", insertOnly=true)" }

// acceptTrimmed checks the signature got of a snapshot for an operator (a Top-N, a Rank) whose signature
// keeping every row is full and that keeps only its top rows when trim (trimmedSig): its own, or full,
// whose rows past the top a trimmed operator drops as it restores. A trimmed snapshot restored into the
// operator keeping every row is refused (refused); any other signature is a changed query's (sigMismatch).
func acceptTrimmed(got, full string, trim bool, refused func() error) error {
	own := full
	if trim {
		own = trimmedSig(full)
	}
	switch {
	case got == full || got == own:
		return nil
	case got == trimmedSig(full):
		return refused()
	}
	return sigMismatch(own, got, own)
}

// trimmedRefused is the error of a trimmed snapshot (an insert-only input's: only the top rows, holds)
// restored into the operator op (what) of an updating input, whose retractions would bring rows into its
// result (into) that the snapshot does not hold.
func trimmedRefused(op, what, holds, into string) error {
	return fmt.Errorf("restore %s: the savepoint was taken by this %s over an insert-only input, so it holds "+
		"only %s, but here its input is updating (it retracts rows) and a retraction "+
		"would bring rows into the %s that the savepoint does not hold; restore the savepoint into the query "+
		"whose %s input is insert-only (as when it was taken), or start this query without the savepoint", op, what, holds, into, what)
}

func (t *topN) SnapshotState(w state.Writer) error {
	meta := binary.AppendUvarint(appendMeta(nil, t.signature()), t.seq)
	if t.ttl.on() {
		meta = binary.AppendVarint(meta, t.touched)
	}
	if err := w.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var kb, vb []byte
	var err error
	t.list.each(func(e rEnt) bool {
		kb = binary.BigEndian.AppendUint64(append(kb[:0], e.order()...), e.seq())
		vb = append(append(vb[:0], stateVersion), t.st.row(&e)...)
		err = w.Put(0, kb, vb)
		return err == nil
	})
	return err
}

func (t *topN) RestoreState(r state.Reader) error {
	op := t.signature()
	err := restoreLoopAs(r, op, t.acceptSignature, func(d *stateDec) {
		t.seq = max(t.seq, d.uvarint())
		if len(d.b) > 0 {
			t.touched = d.varint()
		}
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if len(key) < 8 {
			return corrupt(op, "key %x is shorter than an arrival number", key)
		}
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		vals := d.row()
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		if !sortColsFit(vals, t.keys) {
			return entryError(op, ns, key, fmt.Errorf("a row has %d columns, fewer than the operator reads", len(vals)))
		}
		b := appendSortKey(t.keyBuf[:0], vals, t.keys)
		if !bytes.Equal(b, key[:len(key)-8]) {
			return entryError(op, ns, key, fmt.Errorf("the key does not match the sort key of its row"))
		}
		seq := binary.BigEndian.Uint64(key[len(key)-8:])
		ol := len(b)
		b = appendSeq(b, seq)
		sl := len(b)
		b = appendRowBinary(b, vals)
		t.keyBuf = b // insert copies the entry into its chunk and the row into the row arena
		t.list.insert(&t.st, rEnt{sk: b[:sl:sl], row: b[sl:], ol: ol})
		if t.trim {
			t.trimTail() // a snapshot of an updating input's Top-N (or of a version that kept every row)
		}
		t.seq = max(t.seq, seq)
		return nil
	})
	t.tidy() // the rows a trimmed restore dropped
	return err
}

// ChangelogNormalize state: namespace 0, one entry per live key (the upsert key encoding) whose value is the
// version, varint last write (Unix ms, for the state TTL; 0 without one) and the key's last row.

func (n *normalize) signature() string {
	return fmt.Sprintf("ChangelogNormalize(keys=%d)", len(n.keys))
}

func (n *normalize) SnapshotState(w state.Writer) error {
	if n.batch {
		return fmt.Errorf("snapshot %s: %w", n.signature(), errBatchSnapshot)
	}
	if err := w.Put(nsMeta, nil, appendMeta(nil, n.signature())); err != nil {
		return err
	}
	var kb, vb []byte
	for k, st := range n.state {
		kb = append(kb[:0], k...)
		vb = binary.AppendVarint(append(vb[:0], stateVersion), st.touched)
		vb = appendRowBinary(vb, st.vals)
		if err := w.Put(0, kb, vb); err != nil {
			return err
		}
	}
	return nil
}

// migrateState re-keys the entries written with the older key encoding (key i encoded with the type of column
// i; see RestoreState) before a parallel restore routes them by key, so each reaches the subtask that owns its
// key now.
func (n *normalize) migrateState(es []stateEntry) ([]stateEntry, error) {
	for i, e := range es {
		if e.ns != 0 || len(e.key) == 0 {
			continue
		}
		d, err := newStateDec(e.value)
		if err != nil {
			continue // RestoreState reports it
		}
		d.varint()
		row := d.row()
		if d.done() != nil || !keyColsFit(row, n.keys) {
			continue
		}
		if kb := appendGroupKey(nil, row, n.keys, n.kts); !bytes.Equal(kb, e.key) && bytes.Equal(appendGroupKey(nil, row, n.keys, n.ts), e.key) {
			es[i].key = kb
		}
	}
	return es, nil
}

func (n *normalize) RestoreState(r state.Reader) error {
	op := n.signature()
	if n.batch {
		return fmt.Errorf("restore %s: %w", op, errBatchSnapshot)
	}
	return restoreLoop(r, op, n.signature(), nil, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if _, dup := n.state[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		touched := d.varint()
		row := d.row()
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		if !keyColsFit(row, n.keys) {
			return entryError(op, ns, key, fmt.Errorf("a row has %d columns, fewer than the operator reads", len(row)))
		}
		if n.kbuf = appendGroupKey(n.kbuf[:0], row, n.keys, n.kts); !bytes.Equal(n.kbuf, key) {
			// Versions before 2026-12-05 encoded key i with the type of column i, not of column keys[i]
			// (they differ for an integer value under a DECIMAL/FLOAT/DOUBLE type): accept that form and
			// keep the entry under the key this version computes.
			if !bytes.Equal(appendGroupKey(nil, row, n.keys, n.ts), key) {
				return entryError(op, ns, key, fmt.Errorf("the key does not match the key columns of its row"))
			}
			if _, dup := n.state[string(n.kbuf)]; dup {
				return corrupt(op, "key %x appears twice", n.kbuf)
			}
		}
		n.state[string(n.kbuf)] = normRow{vals: row, touched: touched}
		return nil
	})
}
