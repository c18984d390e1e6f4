package filesystem

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Avro object container files (Avro 1.11 specification): the header (magic, metadata with the writer
// schema and codec, a sync marker), then blocks of (row count, byte size, rows, sync marker). Flink's
// filesystem connector writes them with the 'avro.codec' (default snappy).

var ocfMagic = []byte{'O', 'b', 'j', 1}

type avroFormat struct {
	s      *settings
	schema string
	plan   *avro.EncodePlan
	codec  string
}

func newAvroFormat(s *settings, r *options.Resolved) (*avroFormat, error) {
	local := false
	if v, ok := r.Value("timestamp_mapping.legacy"); ok {
		local = !v.(bool)
	}
	text, err := avro.DeriveSchema(s.fileRow, avro.DeriveOptions{LocalTimestamps: local})
	if err != nil {
		return nil, err
	}
	sch, err := avro.ParseSchema(text)
	if err != nil {
		return nil, fmt.Errorf("derived schema %s: %w", text, err)
	}
	plan, err := avro.NewEncodePlan(s.fileRow, sch)
	if err != nil {
		return nil, err
	}
	codec := "snappy"
	if c, ok := r.Raw("codec"); ok {
		codec = c
	}
	switch codec {
	case "null", "deflate", "snappy", "zstandard":
	default:
		return nil, optErr("avro.codec", "Invalid value for option 'avro.codec': Sluice writes and reads Avro files with 'null', 'deflate', 'snappy' or 'zstandard', not '%s'", codec)
	}
	return &avroFormat{s: s, schema: text, plan: plan, codec: codec}, nil
}

type avroWriter struct {
	f     *avroFormat
	w     *bufio.Writer
	sync  [16]byte
	block []byte
	rows  int64
	size  int64
	comp  bytes.Buffer
	zw    *zstd.Encoder
}

const avroBlockBytes = 64 << 10

func (a *avroFormat) newWriter(w io.Writer) (rowWriter, error) {
	aw := &avroWriter{f: a, w: bufio.NewWriterSize(w, 64<<10)}
	if _, err := rand.Read(aw.sync[:]); err != nil {
		return nil, err
	}
	h := append([]byte(nil), ocfMagic...)
	h = appendLong(h, 2)
	h = appendBytes(appendBytes(h, []byte("avro.schema")), []byte(a.schema))
	h = appendBytes(appendBytes(h, []byte("avro.codec")), []byte(a.codec))
	h = appendLong(h, 0)
	h = append(h, aw.sync[:]...)
	n, err := aw.w.Write(h)
	aw.size += int64(n)
	return aw, err
}

func (w *avroWriter) Write(row []types.Value) error {
	b, err := w.f.plan.Append(w.block, row)
	if err != nil {
		return avro.RecordError(err, true, "failed to serialize Avro record")
	}
	w.block = b
	w.rows++
	if len(w.block) >= avroBlockBytes {
		return w.flushBlock()
	}
	return nil
}

func (w *avroWriter) flushBlock() error {
	if w.rows == 0 {
		return nil
	}
	data := w.block
	switch w.f.codec {
	case "deflate":
		w.comp.Reset()
		fw, _ := flate.NewWriter(&w.comp, flate.DefaultCompression)
		if _, err := fw.Write(data); err != nil {
			return err
		}
		if err := fw.Close(); err != nil {
			return err
		}
		data = w.comp.Bytes()
	case "snappy":
		out := snappy.Encode(w.comp.Bytes()[:0], data)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
		data = out
	case "zstandard":
		if w.zw == nil {
			w.zw, _ = zstd.NewWriter(nil)
		}
		data = w.zw.EncodeAll(data, nil)
	}
	hdr := appendLong(appendLong(nil, w.rows), int64(len(data)))
	for _, part := range [][]byte{hdr, data, w.sync[:]} {
		n, err := w.w.Write(part)
		w.size += int64(n)
		if err != nil {
			return err
		}
	}
	w.block, w.rows = w.block[:0], 0
	return nil
}

func (w *avroWriter) Size() int64 { return w.size + int64(len(w.block)) }

func (w *avroWriter) Close() error {
	if err := w.flushBlock(); err != nil {
		return err
	}
	if w.zw != nil {
		w.zw.Close()
	}
	return w.w.Flush()
}

func appendLong(b []byte, v int64) []byte {
	return binary.AppendUvarint(b, uint64((v<<1)^(v>>63)))
}

func appendBytes(b, s []byte) []byte { return append(appendLong(b, int64(len(s))), s...) }

// avroReader reads an object container file with the schema stored in it (resolved to the table's columns).
type avroReader struct {
	s     *settings
	r     *bufio.Reader
	plan  *avro.DecodePlan
	codec string
	sync  [16]byte
	tmp   []types.Value
	zr    *zstd.Decoder
	block int
}

var errNotAvro = errors.New("not an Avro object container file")

func (a *avroFormat) newReader(_ context.Context, f *os.File, project []int) (rowReader, error) {
	r := &avroReader{s: a.s, r: bufio.NewReaderSize(f, 64<<10), tmp: make([]types.Value, len(a.s.fileRow.Fields))}
	var magic [4]byte
	if _, err := io.ReadFull(r.r, magic[:]); err != nil || !bytes.Equal(magic[:], ocfMagic) {
		return nil, errNotAvro
	}
	meta := map[string][]byte{}
	for {
		n, err := readLong(r.r)
		if err != nil {
			return nil, fmt.Errorf("%w: header: %v", errNotAvro, err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := readLong(r.r); err != nil {
				return nil, fmt.Errorf("%w: header: %v", errNotAvro, err)
			}
		}
		for ; n > 0; n-- {
			k, err := readBytes(r.r)
			if err != nil {
				return nil, fmt.Errorf("%w: header: %v", errNotAvro, err)
			}
			v, err := readBytes(r.r)
			if err != nil {
				return nil, fmt.Errorf("%w: header: %v", errNotAvro, err)
			}
			meta[string(k)] = v
		}
	}
	if _, err := io.ReadFull(r.r, r.sync[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", errNotAvro, err)
	}
	ws, err := avro.ParseSchema(string(meta["avro.schema"]))
	if err != nil {
		return nil, fmt.Errorf("the file's Avro schema: %w", err)
	}
	if r.plan, err = avro.NewDecodePlan(ws, a.s.fileRow, nil); err != nil {
		return nil, fmt.Errorf("the file's Avro schema does not match the table: %w", err)
	}
	r.plan = r.plan.Project(fileProjection(a.s, project))
	r.codec = string(meta["avro.codec"])
	switch r.codec {
	case "", "null", "deflate", "snappy", "zstandard":
	default:
		return nil, fmt.Errorf("Avro codec '%s' is not supported (null, deflate, snappy, zstandard)", r.codec)
	}
	return r, nil
}

func (r *avroReader) Next() ([][]types.Value, error) {
	data, count, err := r.readBlock()
	if data == nil || err != nil {
		return nil, err
	}
	width := len(r.s.physical.Fields)
	slab := make([]types.Value, width*int(count))
	rows := make([][]types.Value, count)
	for i := range rows {
		clear(r.tmp)
		n, err := r.plan.Decode(data, r.tmp)
		if err != nil {
			return nil, r.recordError(i, err)
		}
		data = data[n:]
		row := slab[i*width : (i+1)*width : (i+1)*width]
		for k, j := range r.s.dataIdx {
			row[j] = r.tmp[k]
		}
		rows[i] = row
	}
	return rows, nil
}

func (r *avroReader) recordError(i int, err error) error {
	return fmt.Errorf("block %d, record %d: %w", r.block, i+1, avro.RecordError(err, false, "failed to deserialize Avro record"))
}

// readBlock reads the next block of the file: its records' data (decompressed) and their count; nil data at
// the end of the file.
func (r *avroReader) readBlock() ([]byte, int64, error) {
	count, err := readLong(r.r)
	if err == io.EOF {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	r.block++
	size, err := readLong(r.r)
	if err != nil || size < 0 || count < 0 {
		return nil, 0, fmt.Errorf("block %d: malformed block header", r.block)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return nil, 0, fmt.Errorf("block %d: %w", r.block, err)
	}
	var sync [16]byte
	if _, err := io.ReadFull(r.r, sync[:]); err != nil || sync != r.sync {
		return nil, 0, fmt.Errorf("block %d: sync marker does not match the header's (corrupt or truncated file)", r.block)
	}
	switch r.codec {
	case "deflate":
		if data, err = io.ReadAll(flate.NewReader(bytes.NewReader(data))); err != nil {
			return nil, 0, fmt.Errorf("block %d: deflate: %w", r.block, err)
		}
	case "snappy":
		if len(data) < 4 {
			return nil, 0, fmt.Errorf("block %d: snappy block too short", r.block)
		}
		if data, err = snappy.Decode(nil, data[:len(data)-4]); err != nil {
			return nil, 0, fmt.Errorf("block %d: snappy: %w", r.block, err)
		}
	case "zstandard":
		if r.zr == nil {
			r.zr, _ = zstd.NewReader(nil)
		}
		if data, err = r.zr.DecodeAll(data, nil); err != nil {
			return nil, 0, fmt.Errorf("block %d: zstandard: %w", r.block, err)
		}
	}
	if data == nil {
		data = []byte{} // an empty block is not the end of the file
	}
	return data, count, nil
}

func (r *avroReader) Close() error {
	if r.zr != nil {
		r.zr.Close()
	}
	return nil
}

func readLong(r io.ByteReader) (int64, error) {
	u, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, err
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := readLong(r)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 64<<20 {
		return nil, fmt.Errorf("bad length %d", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}
