package kafka

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fetched records come from a pool (kgo.WithPools): franz-go decodes each fetched batch into a []kgo.Record
// that fetchRecords hands it, and handle recycles every record of a partition's fetch once it decoded them,
// so that a source does not allocate a Record per fetched record (about 200 bytes each). The pool is the
// process's, shared by every source subtask (sync.Pool: per-CPU caches, emptied by the GC).
//
// The bytes the records point to are pooled only when the source copies every byte it keeps (fetchBytes
// below); otherwise a decoded value may keep pointing into a record's key, value or header bytes, which stay
// the GC's to free.

// fetchRecords is the record pool of every source client.
var fetchRecords = &recordPool{}

type recordPool struct{ p sync.Pool } // of *[]kgo.Record

var _ kgo.PoolRecords = (*recordPool)(nil)

// GetRecords returns a slice of capacity at least n. A new slice has an eighth more room, so that batches of
// about the same size share slices; not more, since the runtime zeroes all of it (a source whose fetches
// each bring a whole partition reuses nothing).
func (p *recordPool) GetRecords(n int) []kgo.Record {
	if s, ok := p.p.Get().(*[]kgo.Record); ok {
		if cap(*s) >= n {
			return (*s)[:0]
		}
		p.p.Put(s) // too small for this batch; another may fit
	}
	return make([]kgo.Record, 0, max(n+n/8, 64))
}

// PutRecords takes back a slice whose records were all recycled (franz-go calls it).
func (p *recordPool) PutRecords(s []kgo.Record) { p.p.Put(&s) }

// recycle gives the records of one partition's fetch back to the pool; none may be used after.
func recycle(recs []*kgo.Record) {
	for _, rec := range recs {
		rec.Recycle()
	}
}

// Decompressed batches come from a pool too (kgo.PoolDecompressBytes), but only for a source whose rows
// copy every byte they keep (copiesRecords): the columnar path with typed columns only, where strings are
// copied into the batch's arena. A record's key and value then point into a pooled buffer that franz-go
// zeroes and hands back once every record of its batch was recycled (handle), and the next fetch decodes
// into it instead of allocating (about the size of the uncompressed records per fetch).

// fetchBytes is the decompression pool of the sources that copy their records' bytes.
var fetchBytes = &bytesPool{}

// bytesPool keeps decompression buffers by size class: class i holds buffers of capacity at least
// minPooledBytes<<i, so that a Get takes any buffer of its class.
type bytesPool struct {
	classes      [bytesClasses]sync.Pool // of *[]byte
	gets, reused atomic.Int64            // buffers handed out, and how many of them came back from a fetch
}

const (
	minPooledBytes = 4 << 10
	bytesClasses   = 13 // 4 KiB .. 16 MiB; larger batches are allocated and dropped
)

var _ kgo.PoolDecompressBytes = (*bytesPool)(nil)

// class is the size class whose buffers all hold n bytes (ceil), or -1 past the largest.
func bytesClass(n int) int {
	c := 0
	for size := minPooledBytes; size < n; size <<= 1 {
		c++
	}
	if c >= bytesClasses {
		return -1
	}
	return c
}

// GetDecompressBytes returns a buffer for the decompressed batch: of its exact size for snappy (its block
// starts with the length as a uvarint), else a guess of four times the compressed size (franz-go grows it
// when short and puts the grown one back).
func (p *bytesPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	n := 4 * len(compressed)
	if codec == kgo.CodecSnappy && !bytes.HasPrefix(compressed, xerialMagic) {
		if l, k := binary.Uvarint(compressed); k > 0 && l <= 1<<30 {
			n = int(l)
		}
	}
	c := bytesClass(n)
	if c < 0 {
		return nil // the codec allocates
	}
	p.gets.Add(1)
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		p.reused.Add(1)
		return (*b)[:0]
	}
	return make([]byte, 0, minPooledBytes<<c)
}

// PutDecompressBytes takes back a buffer franz-go zeroed (the class it fills: capacity rounded down).
func (p *bytesPool) PutDecompressBytes(b []byte) {
	c := bytesClass(cap(b) + 1)
	if c <= 0 {
		return // smaller than the smallest class, or past the largest
	}
	c-- // the largest class whose size the buffer holds
	p.classes[c].Put(&b)
}

// xerialMagic starts a snappy batch framed the way the Java producer frames it (no length up front).
var xerialMagic = []byte{130, 83, 78, 65, 80, 80, 89, 0}
