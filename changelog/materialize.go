package changelog

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// Materializer applies a changelog to a table, so that a streaming result can be compared with the same
// query's batch result (DESIGN: "materializing a changelog must give the same result as batch mode").
//
// Without a key the table is a multiset of rows: +I/+U add a row, -U/-D remove one equal row and fail when
// there is none. With a key (column indexes) it is keyed by those columns: +I/+U insert or replace the
// row, -U/-D delete it (deleting an absent key is not an error, as with upsert sinks).
//
// Rows are compared by grouping equality (types.AppendKey without column types: 1.0 equals 1.00, -0.0
// equals 0.0, NULL equals NULL).
type Materializer struct {
	key  []int
	rows map[string]*matRow
	buf  []byte
	n    int
}

type matRow struct {
	vals  []types.Value
	count int
}

// NewMaterializer returns an empty table, keyed by key when key is not nil.
func NewMaterializer(key []int) *Materializer {
	return &Materializer{key: key, rows: map[string]*matRow{}}
}

func (m *Materializer) encode(vals []types.Value, cols []int) []byte {
	m.buf = m.buf[:0]
	if cols == nil {
		for _, v := range vals {
			m.buf = types.AppendKey(m.buf, v, types.Type{})
		}
		return m.buf
	}
	for _, c := range cols {
		m.buf = types.AppendKey(m.buf, vals[c], types.Type{})
	}
	return m.buf
}

// Apply applies one change. The row's values are copied.
func (m *Materializer) Apply(r Row) error {
	if m.key != nil {
		for _, c := range m.key {
			if c < 0 || c >= len(r.Vals) {
				return fmt.Errorf("materialize %s: key column %d out of range", formatRow(r), c)
			}
		}
	}
	k := m.encode(r.Vals, m.key)
	e := m.rows[string(k)]
	if r.Kind.IsAccumulate() {
		switch {
		case e == nil:
			m.rows[string(k)] = &matRow{vals: CopyVals(r.Vals), count: 1}
			m.n++
		case m.key != nil:
			e.vals = CopyVals(r.Vals)
		default:
			e.count++
			m.n++
		}
		return nil
	}
	if e == nil {
		if m.key != nil {
			return nil
		}
		return fmt.Errorf("materialize %s: no such row to retract", formatRow(r))
	}
	if m.key != nil {
		e.count = 0
	} else {
		e.count--
	}
	if m.key != nil || e.count == 0 {
		delete(m.rows, string(k))
	}
	m.n--
	return nil
}

// ApplyBatch applies every row of b in order.
func (m *Materializer) ApplyBatch(b *Batch) error {
	for _, r := range b.Rows {
		if err := m.Apply(r); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of rows in the table (duplicates counted).
func (m *Materializer) Len() int { return m.n }

// Rows returns the table's rows (duplicates repeated) in a deterministic order: by the order-preserving
// encoding of their values, column by column (NULL first, numbers numerically, strings bytewise).
func (m *Materializer) Rows() [][]types.Value {
	type kv struct {
		key string
		row *matRow
	}
	all := make([]kv, 0, len(m.rows))
	for _, e := range m.rows {
		all = append(all, kv{key: string(m.encode(e.vals, nil)), row: e})
	}
	slices.SortFunc(all, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	out := make([][]types.Value, 0, m.n)
	for _, x := range all {
		for range x.row.count {
			out = append(out, CopyVals(x.row.vals))
		}
	}
	return out
}

// formatRow prints a row for error messages without column types: +I[1, a, NULL].
func formatRow(r Row) string {
	var b bytes.Buffer
	b.WriteString(r.Kind.String())
	b.WriteByte('[')
	for i, v := range r.Vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Write(types.AppendPrint(nil, v, types.Type{}, nil))
	}
	b.WriteByte(']')
	return b.String()
}
