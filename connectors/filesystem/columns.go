package filesystem

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/csv"
	"github.com/sluicesql/sluice/formats/parquet"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The columnar paths (issue 14): a Parquet file is read as column vectors (parquet.Reader.NextColumns) when
// the operators downstream take them, and so are JSON and CSV files (formats/json's and formats/csv's
// DecodeColumns, line by line, the decoder projected to the columns the query reads: projectLines);
// the sink writes columnar batches to Parquet (WriteColumns) and CSV (csv.Encoder.EncodeColumns) files
// without making rows. The files and the rows are those of the row paths.

// readColumns pushes the rows of a Parquet file after the first skip ones as columnar batches, the
// partition columns filled with the file's partition values. It returns the rows read.
func (s *source) readColumns(ctx context.Context, r *parquet.Reader, df dataFile, skip int64, out changelog.Output, sp *fileSplits, split int) error {
	var conv vec.RowConv
	read := int64(0)
	var sel []int32
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := r.NextColumns()
		if err != nil {
			return fmt.Errorf("filesystem source: file '%s': %w", df.path, err)
		}
		if b == nil {
			return nil
		}
		n := b.N
		b.Sel = nil
		if read+int64(n) <= skip {
			read += int64(n)
			continue
		}
		if read < skip {
			sel = sel[:0]
			for i := int(skip - read); i < n; i++ {
				sel = append(sel, int32(i))
			}
			b.Sel = sel
		}
		read += int64(n)
		for i, j := range s.s.partitionIdx {
			b.Cols[j] = constCol(s.s.partitionTypes[i], df.values[i], n)
		}
		pushed := int64(b.Len())
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

// constCol is a column of n copies of v (a new column for every batch: pushed arenas are not rewritten).
func constCol(t types.Type, v types.Value, n int) *vec.Col {
	c := vec.ColFor(t)
	c.Reset(n)
	for i := 0; i < n; i++ {
		if !c.Append(i, v) {
			vals := make([]types.Value, n)
			for k := range vals {
				vals[k] = v
			}
			return &vec.Col{Kind: vec.Values, Vals: vals}
		}
	}
	return c
}

// columnWriter is a part file writer that also takes columnar batches (the file's columns: the
// non-partition ones).
type columnWriter interface {
	WriteColumns(b *vec.Batch) error
}

func (w *lineWriter) WriteColumns(b *vec.Batch) error {
	ce, ok := w.enc.(*csv.Encoder)
	if !ok {
		return fmt.Errorf("format does not encode columns")
	}
	for k, n := 0, b.Len(); k < n; k++ {
		buf, err := ce.EncodeColumns(w.buf[:0], b.Cols, b.Row(k))
		if err != nil {
			return err
		}
		w.buf = append(buf, '\n')
		m, err := w.w.Write(w.buf)
		w.size += int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

var _ vec.Output = (*output)(nil)

// PushColumns writes a columnar batch through the output's own writer.
func (o *output) PushColumns(b *vec.Batch) error { return o.main.PushColumns(b) }

// AcceptsColumns: as the output.
func (o *writer) AcceptsColumns() bool { return o.o.AcceptsColumns() }

// AcceptsColumns: Parquet and CSV files are written from columns.
func (o *output) AcceptsColumns() bool {
	switch f := o.ff.(type) {
	case *parquetFormat:
		return true
	case *lineFormat:
		_, ok := f.enc.(*csv.Encoder)
		return ok
	}
	return false
}

// PushColumns writes a columnar batch: rows are routed to their partition's file by the partition columns,
// and each file gets the batch's rows of its partition as a selection of the data columns. A file rolls on
// size after the batch's rows are written (the row path checks after every row).
func (o *writer) PushColumns(b *vec.Batch) error {
	if o.o.skip {
		return nil // a killed run's rerun (sink_commit.go)
	}
	if !o.AcceptsColumns() {
		return o.Push(o.conv.Rows(b))
	}
	now := o.o.now()
	n := b.Len()
	if n > 0 {
		if len(o.o.s.partitionIdx) == 0 {
			bk, err := o.bucketOf(nil, now)
			if err != nil {
				return err
			}
			if err := o.writeCols(bk, b, b.Sel, now); err != nil {
				return err
			}
		} else if err := o.routeColumns(b, now); err != nil {
			return err
		}
	}
	return o.checkRolls(now)
}

// routeColumns groups the selected rows of b by partition, in order, and writes each group.
func (o *writer) routeColumns(b *vec.Batch, now time.Time) error {
	if o.pvals == nil {
		o.pvals = make([]types.Value, len(o.o.s.physical.Fields))
	}
	if o.groups == nil {
		o.groups = map[*bucket][]int32{}
	}
	order := o.order[:0]
	var last *bucket
	for k, n := 0, b.Len(); k < n; k++ {
		i := b.Row(k)
		same := last != nil
		for _, j := range o.o.s.partitionIdx {
			v := b.Cols[j].Value(i)
			same = same && sameScalar(v, o.pvals[j])
			o.pvals[j] = v
		}
		bk := last
		if !same { // rows of one partition usually come together: the bucket is looked up on a change
			var err error
			if bk, err = o.bucketOf(o.pvals, now); err != nil {
				return err
			}
		}
		if bk != last {
			if len(o.groups[bk]) == 0 {
				order = append(order, bk)
			}
			last = bk
		}
		o.groups[bk] = append(o.groups[bk], int32(i))
	}
	o.order = order
	for _, bk := range order {
		sel := o.groups[bk]
		// A bucket rolled by an earlier group of this batch is not reopened by it: bucketOf reopens it.
		if bk.w == nil {
			if err := o.open(bk, now); err != nil {
				return err
			}
		}
		if err := o.writeCols(bk, b, sel, now); err != nil {
			return err
		}
		o.groups[bk] = sel[:0] // kept for the next batch; empty means not in it
	}
	return nil
}

// writeCols writes rows sel of b (nil: all N) to the bucket's file, then rolls it when it is full.
func (o *writer) writeCols(bk *bucket, b *vec.Batch, sel []int32, now time.Time) error {
	o.view.N, o.view.Sel, o.view.Kinds = b.N, sel, nil
	o.view.Cols = o.view.Cols[:0]
	for _, j := range o.o.s.dataIdx {
		o.view.Cols = append(o.view.Cols, b.Cols[j])
	}
	cw, ok := bk.w.(columnWriter)
	if !ok {
		return fmt.Errorf("filesystem sink: the file writer does not take columns")
	}
	if err := cw.WriteColumns(&o.view); err != nil {
		return fmt.Errorf("filesystem sink: write '%s': %w", bk.tmp, err)
	}
	bk.lastRow = now
	if bk.w.Size() >= o.o.s.fileSize {
		return o.roll(bk)
	}
	return nil
}

// sameScalar reports whether a and b are the same scalar value (a value held in X is never the same).
func sameScalar(a, b types.Value) bool {
	return a.T == b.T && a.I == b.I && a.N == b.N && a.S == b.S && a.X == nil && b.X == nil
}

// projectLines passes the physical columns a query reads (nil: all) to a line format's decoder that can
// skip the others (formats.Projector: json, csv); they are NULL, as in a Parquet file's projection. Only
// decoders of one reader (newDec) are projected: the shared one is not.
func projectLines(dec formats.Decoder, s *settings, project []int) {
	if pr, ok := dec.(formats.Projector); ok && project != nil {
		pr.Project(fileProjection(s, project))
	}
}

// fileProjection is the projection of the file's columns (the data columns) that project, physical columns
// a query reads, needs; nil when project is nil (all).
func fileProjection(s *settings, project []int) *formats.Projection {
	if project == nil {
		return nil
	}
	read := make(map[int]bool, len(project))
	for _, j := range project {
		read[j] = true
	}
	p := &formats.Projection{Need: make([]bool, len(s.dataIdx))}
	for i, j := range s.dataIdx {
		p.Need[i] = read[j]
	}
	return p
}

// columnDecoder is a line format that decodes straight into columns (formats/json's, formats/csv's Decoder).
type columnDecoder interface {
	DecodesColumns() bool
	DecodeColumns(data []byte, cols []*vec.Col, row int) (bool, error)
}

// columnDecoder returns the reader's decoder when its rows decode into columns, else nil.
func (r *lineReader) columnDecoder() columnDecoder {
	cd, ok := r.dec.(columnDecoder)
	if !ok || !cd.DecodesColumns() {
		return nil
	}
	for _, f := range r.s.physical.Fields {
		if !vec.Exact(f.Type) {
			return nil
		}
	}
	return cd
}

// readLineColumns pushes the rows of a line-format file that decodes into columns (json) after the first
// skip ones as columnar batches of up to readBatch rows, the partition columns filled with the file's
// partition values: the rows, the skipped lines and the errors (with their line numbers) of the row path.
func (s *source) readLineColumns(ctx context.Context, r *lineReader, cd columnDecoder, df dataFile, skip int64, out changelog.Output, sp *fileSplits, split int) error {
	phys := s.s.physical.Fields
	b := &vec.Batch{Cols: make([]*vec.Col, len(phys))}
	dataCols := make([]*vec.Col, len(s.s.dataIdx))
	for i, j := range s.s.dataIdx {
		dataCols[i] = vec.ColFor(s.s.fileRow.Fields[i].Type)
		b.Cols[j] = dataCols[i]
	}
	var conv vec.RowConv
	read := int64(0)
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, c := range dataCols {
			c.Reset(0)
		}
		n := 0
		for n < readBatch {
			if !r.sc.Scan() {
				eof = true
				break
			}
			r.line++
			line := r.sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			ok, err := cd.DecodeColumns(line, dataCols, n)
			if err != nil {
				return fmt.Errorf("filesystem source: file '%s': line %d: %w", df.path, r.line, err)
			}
			if !ok {
				continue
			}
			if read++; read <= skip {
				for _, c := range dataCols {
					c.Truncate(n)
				}
				continue
			}
			n++
		}
		if err := r.sc.Err(); err != nil {
			return fmt.Errorf("filesystem source: file '%s': line %d: %w", df.path, r.line+1, err)
		}
		if n == 0 {
			continue
		}
		b.N, b.Sel = n, nil
		for i, j := range s.s.partitionIdx {
			b.Cols[j] = constCol(s.s.partitionTypes[i], df.values[i], n)
		}
		for _, c := range b.Cols {
			c.PadNulls(n)
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
	return nil
}
