package state

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// A state file holds the entries one operator wrote during a snapshot:
//
//	magic "SLST" | version 1 | entries... | crc32c of everything before it (4 bytes, big-endian)
//	entry: ns u8 | key group u16 big-endian | uvarint key length | key | uvarint value length | value
//
// The key group is stored so that a later rescale can pick the entries of a key-group range without hashing.

var fileMagic = []byte("SLST")

const fileVersion = 1

// FileWriter collects entries in memory (a Writer) and writes them to a state file.
type FileWriter struct {
	maxParallelism int
	buf            []byte
	n              int64
}

// NewFileWriter returns an empty writer whose entries are grouped by maxParallelism key groups.
func NewFileWriter(maxParallelism int) *FileWriter {
	w := &FileWriter{maxParallelism: maxParallelism}
	w.buf = append(append(w.buf, fileMagic...), fileVersion)
	return w
}

// Put appends one entry.
func (w *FileWriter) Put(ns uint8, key, value []byte) error {
	kg := KeyGroup(key, w.maxParallelism)
	w.buf = append(w.buf, ns)
	w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(kg))
	w.buf = binary.AppendUvarint(w.buf, uint64(len(key)))
	w.buf = append(w.buf, key...)
	w.buf = binary.AppendUvarint(w.buf, uint64(len(value)))
	w.buf = append(w.buf, value...)
	w.n++
	return nil
}

// Entries is the number of entries put so far.
func (w *FileWriter) Entries() int64 { return w.n }

// Size is the size of the file WriteFile writes.
func (w *FileWriter) Size() int64 { return int64(len(w.buf)) + 4 }

// WriteFile writes the entries to path (created; fsynced before it returns).
func (w *FileWriter) WriteFile(path string) error {
	data := binary.BigEndian.AppendUint32(w.buf, crc32.Checksum(w.buf, castagnoli))
	err := writeFileSync(path, data)
	w.buf = w.buf[:len(data)-4]
	return err
}

// writeFileSync creates path with data and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// FileReader reads a state file (a Reader).
type FileReader struct {
	path string
	data []byte
	off  int
}

// OpenFile reads and verifies a state file.
func OpenFile(path string) (*FileReader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data)
}

// Reader returns a reader over the entries written so far, without a file (tests, in-process restarts).
func (w *FileWriter) Reader() (*FileReader, error) {
	data := binary.BigEndian.AppendUint32(append([]byte(nil), w.buf...), crc32.Checksum(w.buf, castagnoli))
	return parseFile("memory", data)
}

func parseFile(path string, data []byte) (*FileReader, error) {
	if len(data) < len(fileMagic)+1+4 || string(data[:4]) != string(fileMagic) {
		return nil, fmt.Errorf("%w: %s is not a Sluice state file", ErrCorrupt, filepath.Base(path))
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: %s fails its checksum (the file was damaged after it was written)", ErrCorrupt, filepath.Base(path))
	}
	if body[4] != fileVersion {
		return nil, fmt.Errorf("%w: %s has format version %d; this Sluice reads version %d", ErrCorrupt, filepath.Base(path), body[4], fileVersion)
	}
	return &FileReader{path: path, data: body, off: 5}, nil
}

// Next returns the next entry.
func (r *FileReader) Next() (ns uint8, key, value []byte, ok bool, err error) {
	if r.off >= len(r.data) {
		return 0, nil, nil, false, nil
	}
	bad := func() (uint8, []byte, []byte, bool, error) {
		return 0, nil, nil, false, fmt.Errorf("%w: %s: truncated entry at byte %d", ErrCorrupt, filepath.Base(r.path), r.off)
	}
	d := r.data[r.off:]
	if len(d) < 3 {
		return bad()
	}
	ns = d[0]
	d = d[3:]
	kl, n := binary.Uvarint(d)
	if n <= 0 || kl > uint64(len(d)-n) {
		return bad()
	}
	key = d[n : n+int(kl)]
	d = d[n+int(kl):]
	vl, m := binary.Uvarint(d)
	if m <= 0 || vl > uint64(len(d)-m) {
		return bad()
	}
	value = d[m : m+int(vl)]
	r.off = len(r.data) - len(d) + m + int(vl)
	return ns, key, value, true, nil
}
