package kafka

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fetched records come from a pool (kgo.WithPools): franz-go decodes each fetched batch into a []kgo.Record
// that fetchRecords hands it, and handle recycles every record of a partition's fetch once it decoded them,
// so that a source does not allocate a Record per fetched record (about 200 bytes each). The pool is the
// process's, shared by every source subtask (sync.Pool: per-CPU caches, emptied by the GC).
//
// Only the Record structs are pooled, not the bytes they point to (no kgo.PoolDecompressBytes): a decoded
// value may keep pointing into a record's key, value or header bytes, which stay the GC's to free.

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
