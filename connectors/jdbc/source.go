package jdbc

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// source is the bounded scan: one query per partition (scan.partition.*), read one after the other.
type source struct{ cfg *config }

func (*source) ChangelogMode() changelog.Mode { return changelog.InsertOnly }
func (*source) Bounded() bool                 { return true }

// partition is an inclusive range of the partition column.
type partition struct{ lo, hi int64 }

// partitions splits [lo, hi] into n ranges as Flink's JdbcNumericBetweenParametersProvider: the first
// ranges are one value larger when the count does not divide evenly; n is capped at the number of values.
func partitions(lo, hi int64, n int) []partition {
	count := uint64(hi-lo) + 1
	var size, big uint64
	if count == 0 { // the whole int64 range: 2^64 values
		size, big = ^uint64(0)/uint64(n), ^uint64(0)%uint64(n)+1
		if big == uint64(n) {
			size, big = size+1, 0
		}
	} else {
		if uint64(n) > count {
			n = int(count)
		}
		size, big = count/uint64(n), count%uint64(n)
	}
	out := make([]partition, 0, n)
	start := lo
	for i := 0; i < n; i++ {
		sz := size
		if uint64(i) < big {
			sz++
		}
		end := start + int64(sz-1)
		out = append(out, partition{start, end})
		start = end + 1
	}
	return out
}

// queries returns the SELECTs of the scan with their arguments.
func (s *source) queries() (string, [][]any) {
	c := s.cfg
	names := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = pgx.Identifier{col.Name}.Sanitize()
	}
	q := "SELECT " + strings.Join(names, ", ") + " FROM " + c.ident.Sanitize()
	col, ok := ScanPartitionColumn.Lookup(c.r)
	if !ok {
		return q, [][]any{nil}
	}
	q += " WHERE " + pgx.Identifier{col}.Sanitize() + " BETWEEN $1 AND $2"
	var args [][]any
	for _, p := range partitions(ScanPartitionLower.Get(c.r), ScanPartitionUpper.Get(c.r), ScanPartitionNum.Get(c.r)) {
		args = append(args, []any{p.lo, p.hi})
	}
	return q, args
}

func (s *source) Run(ctx context.Context, out changelog.Output) error {
	c := s.cfg
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := c.checkColumns(ctx, conn); err != nil {
		return err
	}
	q, parts := s.queries()
	fetch := ScanFetchSize.Get(c.r)
	ts := make([]types.Type, len(c.cols))
	for i, col := range c.cols {
		ts[i] = col.Type
	}
	var b changelog.Batch
	for _, args := range parts {
		if err := s.read(ctx, conn, q, args, fetch, ts, &b, out); err != nil {
			return fmt.Errorf("jdbc table '%s': scanning table '%s' in %s: %w", c.table.Name, c.name, c.where(), err)
		}
	}
	return nil
}

const pushRows = 1024

// read runs one partition's query: at once, or with a cursor fetching 'scan.fetch-size' rows per round trip.
func (s *source) read(ctx context.Context, conn *pgx.Conn, q string, args []any, fetch int, ts []types.Type,
	b *changelog.Batch, out changelog.Output) error {
	if fetch == 0 {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		if _, err := drain(rows, ts, b, out); err != nil {
			return err
		}
		return flushBatch(b, out)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "DECLARE sluice_scan NO SCROLL CURSOR FOR "+q, args...); err != nil {
		return err
	}
	fq := fmt.Sprintf("FETCH FORWARD %d FROM sluice_scan", fetch)
	for {
		rows, err := tx.Query(ctx, fq)
		if err != nil {
			return err
		}
		n, err := drain(rows, ts, b, out)
		if err != nil {
			return err
		}
		if n < fetch {
			break
		}
	}
	if err := flushBatch(b, out); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func flushBatch(b *changelog.Batch, out changelog.Output) error {
	if b.Len() == 0 {
		return nil
	}
	err := out.Push(b)
	b.Reset()
	return err
}

// drain converts rows into b, pushing every pushRows rows; it returns the number of rows read.
func drain(rows pgx.Rows, ts []types.Type, b *changelog.Batch, out changelog.Output) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		vals, err := rowValues(rows, ts)
		if err != nil {
			return n, err
		}
		b.Append(changelog.Insert, vals)
		n++
		if b.Len() >= pushRows {
			if err := flushBatch(b, out); err != nil {
				return n, err
			}
		}
	}
	return n, rows.Err()
}

func rowValues(rows pgx.Rows, ts []types.Type) ([]types.Value, error) {
	raw, err := rows.Values()
	if err != nil {
		return nil, err
	}
	vals := make([]types.Value, len(ts))
	for i, x := range raw {
		v, err := fromPG(x, ts[i])
		if err != nil {
			return nil, fmt.Errorf("column '%s': %w", rows.FieldDescriptions()[i].Name, err)
		}
		vals[i] = v
	}
	return vals, nil
}
