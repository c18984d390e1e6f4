package filesystem

import (
	"context"
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/vec"
)

// The columnar path of Avro object container files (issue 14): when the operators downstream take columns
// and the table's columns have a columnar form (avro.ColumnsSupported, no ROW at the top level, as for the
// line formats), each block's records are decoded straight into column vectors with the file's resolved
// plan (avro.DecodePlan.DecodeColumns, projected to the columns the query reads), one batch per block:
// the rows, skipped rows and errors of the row path (avroReader.Next).

// columnar reports whether the reader's rows decode into columns.
func (r *avroReader) columnar() bool {
	if !avro.ColumnsSupported(r.s.fileRow) {
		return false
	}
	for _, f := range r.s.physical.Fields {
		if !vec.Exact(f.Type) {
			return false
		}
	}
	return true
}

// readAvroColumns pushes the rows of an Avro file after the first skip ones as columnar batches, the
// partition columns filled with the file's partition values.
func (s *source) readAvroColumns(ctx context.Context, r *avroReader, df dataFile, skip int64, out changelog.Output, sp *fileSplits, split int) error {
	phys := s.s.physical.Fields
	b := &vec.Batch{Cols: make([]*vec.Col, len(phys))}
	dataCols := make([]*vec.Col, len(s.s.dataIdx))
	for i, j := range s.s.dataIdx {
		dataCols[i] = vec.ColFor(s.s.fileRow.Fields[i].Type)
		b.Cols[j] = dataCols[i]
	}
	var conv vec.RowConv
	read := int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, count, err := r.readBlock()
		if err != nil {
			return fmt.Errorf("filesystem source: file '%s': %w", df.path, err)
		}
		if data == nil {
			return nil
		}
		for _, c := range dataCols {
			c.Reset(0)
		}
		n := 0
		for i := int64(0); i < count; i++ {
			m, err := r.plan.DecodeColumns(data, dataCols, n)
			if err != nil {
				return fmt.Errorf("filesystem source: file '%s': %w", df.path, r.recordError(int(i), err))
			}
			data = data[m:]
			if read++; read <= skip {
				for _, c := range dataCols {
					c.Truncate(n)
				}
				continue
			}
			n++
		}
		if n == 0 {
			continue
		}
		b.N, b.Sel = n, nil
		for i, j := range s.s.partitionIdx {
			b.Cols[j] = constCol(s.s.partitionTypes[i], df.values[i], n)
		}
		pushed := int64(n)
		sp.rows(split)
		if err := vec.PushThen(out, b, &conv, func() {
			s.mu.Lock()
			s.reading[df.rel] += pushed
			s.mu.Unlock()
		}); err != nil {
			return err
		}
	}
}
