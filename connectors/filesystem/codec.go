package filesystem

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/parquet"
	"github.com/sluicesql/sluice/types"
)

// rowWriter writes the rows of one part file (values of the file's row type: the non-partition columns).
type rowWriter interface {
	Write(row []types.Value) error
	// Size is the number of bytes the file will have once closed, as far as known.
	Size() int64
	// Close writes what is buffered and the file's trailer; it does not close the file.
	Close() error
}

// rowReader reads the rows of one file, as rows of the table's physical width with the data columns set
// (partition columns are the caller's). A batch is valid until the next call; nil means the end.
type rowReader interface {
	Next() ([][]types.Value, error)
	Close() error
}

// fileFormat builds writers and readers of one format for one table.
type fileFormat interface {
	newWriter(w io.Writer) (rowWriter, error)
	// newReader opens a file; project lists the physical columns needed (nil: all), which columnar formats
	// read alone.
	newReader(ctx context.Context, f *os.File, project []int) (rowReader, error)
}

// newFileFormat resolves the table's 'format' with the format registry.
func newFileFormat(ctx connectors.Context, s *settings, encode bool) (fileFormat, []string, error) {
	d, err := ctx.Formats.Resolve(ctx.Options, "format")
	if err != nil {
		return nil, nil, err
	}
	switch s.format {
	case "parquet":
		pf, ok := d.Factory.(*parquet.Factory)
		if !ok {
			return nil, nil, fmt.Errorf("format 'parquet' is not the built-in Parquet format")
		}
		cfg, err := pf.ConfigFrom(formats.Context{RowType: s.fileRow, Resolved: d.Options})
		if err != nil {
			return nil, nil, err
		}
		return &parquetFormat{s: s, cfg: cfg}, d.Consumed, nil
	case "avro":
		af, err := newAvroFormat(s, d.Options)
		return af, d.Consumed, err
	}
	lf := &lineFormat{s: s}
	d, err = ctx.Formats.Discover(ctx.Options, "format", s.fileRow, encode)
	if err != nil {
		return nil, nil, err
	}
	if encode {
		if _, ok := d.Encoder.(formats.ChangelogEncoder); ok {
			return nil, nil, optErr("format", "format '%s' is a changelog format; the filesystem sink writes insert-only rows: use csv, json, avro or parquet", s.format)
		}
		lf.enc = d.Encoder
	} else {
		if _, ok := d.Decoder.(formats.ChangelogDecoder); ok {
			return nil, nil, optErr("format", "format '%s' is a changelog format; the filesystem source reads insert-only rows: use csv, json, avro or parquet", s.format)
		}
		lf.dec = d.Decoder
		fctx, opts := ctx.Formats, ctx.Options
		lf.newDec = func() (formats.Decoder, error) {
			d, err := fctx.Discover(opts, "format", s.fileRow, false)
			if err != nil {
				return nil, err
			}
			return d.Decoder, nil
		}
	}
	return lf, d.Consumed, nil
}

// parquetFormat writes and reads Parquet files.
type parquetFormat struct {
	s   *settings
	cfg parquet.Config
}

func (p *parquetFormat) newWriter(w io.Writer) (rowWriter, error) {
	// pqarrow closes a writer that is an io.Closer; the sink closes its file itself, after a sync.
	bw := bufio.NewWriterSize(w, 1<<20)
	pw, err := parquet.NewWriter(bw, p.s.fileRow, p.cfg)
	if err != nil {
		return nil, err
	}
	return &parquetWriter{Writer: pw, bw: bw}, nil
}

type parquetWriter struct {
	*parquet.Writer
	bw *bufio.Writer
}

func (w *parquetWriter) Close() error {
	if err := w.Writer.Close(); err != nil {
		return err
	}
	return w.bw.Flush()
}

func (p *parquetFormat) newReader(ctx context.Context, f *os.File, project []int) (rowReader, error) {
	cols := p.s.dataIdx
	if project != nil {
		isData := map[int]bool{}
		for _, i := range p.s.dataIdx {
			isData[i] = true
		}
		cols = []int{}
		for _, i := range project {
			if isData[i] {
				cols = append(cols, i)
			}
		}
	}
	return parquet.NewReader(ctx, f, p.s.physical, cols, p.cfg)
}

// lineFormat writes one encoded row per line and reads one row per line (csv, json, raw, ...).
type lineFormat struct {
	s   *settings
	enc formats.Encoder
	dec formats.Decoder
	// newDec makes a decoder for one reader: decoders keep buffers, and source subtasks read files side by
	// side (subtasks.go).
	newDec func() (formats.Decoder, error)
}

type lineWriter struct {
	enc  formats.Encoder
	w    *bufio.Writer
	buf  []byte
	size int64
}

func (l *lineFormat) newWriter(w io.Writer) (rowWriter, error) {
	return &lineWriter{enc: l.enc, w: bufio.NewWriterSize(w, 64<<10)}, nil
}

func (w *lineWriter) Write(row []types.Value) error {
	b, err := w.enc.Encode(w.buf[:0], row)
	if err != nil {
		return err
	}
	b = bytes.TrimRight(b, "\n")
	w.buf = append(b, '\n')
	n, err := w.w.Write(w.buf)
	w.size += int64(n)
	return err
}

func (w *lineWriter) Size() int64  { return w.size }
func (w *lineWriter) Close() error { return w.w.Flush() }

const readBatch = 1024

type lineReader struct {
	s    *settings
	dec  formats.Decoder
	sc   *bufio.Scanner
	line int
	tmp  []types.Value
}

func (l *lineFormat) newReader(_ context.Context, f *os.File, project []int) (rowReader, error) {
	dec := l.dec
	if l.newDec != nil {
		var err error
		if dec, err = l.newDec(); err != nil {
			return nil, err
		}
		projectLines(dec, l.s, project)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	return &lineReader{s: l.s, dec: dec, sc: sc, tmp: make([]types.Value, len(l.s.fileRow.Fields))}, nil
}

func (r *lineReader) Next() ([][]types.Value, error) {
	width := len(r.s.physical.Fields)
	var rows [][]types.Value
	var slab []types.Value
	for len(rows) < readBatch && r.sc.Scan() {
		r.line++
		line := r.sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		clear(r.tmp)
		ok, err := r.dec.Decode(line, r.tmp)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", r.line, err)
		}
		if !ok {
			continue
		}
		if len(slab) < width {
			slab = make([]types.Value, width*readBatch)
		}
		row := slab[:width:width]
		slab = slab[width:]
		for i, j := range r.s.dataIdx {
			row[j] = r.tmp[i]
		}
		rows = append(rows, row)
	}
	if err := r.sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows, nil
}

func (r *lineReader) Close() error { return nil }
