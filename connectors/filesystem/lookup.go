package filesystem

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// LookupCacheTTL is Flink's 'lookup.join.cache.ttl' (FileSystemConnectorOptions): how long the table read
// for lookups is kept before it is read again.
var LookupCacheTTL = options.Duration("lookup.join.cache.ttl").Default(60 * time.Minute).
	Desc("Lookup joins: the files are read into memory once and read again after this long.")

var _ connectors.LookupFactory = (*Factory)(nil)

// CreateLookup serves processing-time temporal joins (`JOIN dim FOR SYSTEM_TIME AS OF o.proc ON ...`, as
// Flink's legacy CSV table source and its Hive/filesystem lookup do): the whole table (every visible file,
// partition values included) is read into a hash index on the key columns at Open and read again once
// 'lookup.join.cache.ttl' has passed.
func (f *Factory) CreateLookup(ctx connectors.Context, keys []int) (connectors.LookupSource, error) {
	s, _, ff, err := f.setup(ctx, false)
	if err != nil {
		return nil, err
	}
	kts := make([]types.Type, len(keys))
	for i, k := range keys {
		kts[i] = s.physical.Fields[k].Type
	}
	return &lookup{table: ctx.Table.Name, src: &source{s: s, ff: ff}, keys: keys, kts: kts, ttl: s.lookupTTL, now: time.Now}, nil
}

var _ connectors.ProjectableLookupSource = (*lookup)(nil)

// ApplyProjection is projection pushdown into the lookup join (connectors.ProjectableLookupSource): the
// table is read as a scan projected to the columns p needs and the keys (Parquet reads those column
// chunks only), and the index holds rows whose other columns are NULL.
func (l *lookup) ApplyProjection(p *formats.Projection) {
	var used []int
	for i := range l.src.s.physical.Fields {
		if p.Needs(i) || slices.Contains(l.keys, i) {
			used = append(used, i)
		}
	}
	l.src.ProjectColumns(used)
	l.used = used
}

type lookup struct {
	table  string
	src    *source
	keys   []int
	used   []int // nil: every column; else the columns the index keeps (ApplyProjection), the others NULL
	kts    []types.Type
	ttl    time.Duration
	now    func() time.Time
	loaded time.Time
	index  map[string][][]types.Value
	keyBuf []byte
}

func (l *lookup) Open(ctx context.Context) error { return l.load(ctx) }

func (l *lookup) Close() error {
	l.index = nil
	return nil
}

// load reads every file of the table into the index.
func (l *lookup) load(ctx context.Context) error {
	c := &collector{l: l, index: map[string][][]types.Value{}}
	if err := l.src.Run(ctx, c); err != nil {
		return fmt.Errorf("lookup join on table %s: %w", l.table, err)
	}
	l.index, l.loaded = c.index, l.now()
	return nil
}

// Lookup returns the rows whose key columns equal key (none when a key value is NULL).
func (l *lookup) Lookup(ctx context.Context, key []types.Value, dst [][]types.Value) ([][]types.Value, error) {
	for _, v := range key {
		if v.IsNull() {
			return dst, nil
		}
	}
	if l.index == nil || l.now().Sub(l.loaded) >= l.ttl {
		if err := l.load(ctx); err != nil {
			return dst, err
		}
	}
	l.keyBuf = l.keyBuf[:0]
	for i, v := range key {
		l.keyBuf = types.AppendKey(l.keyBuf, v, l.kts[i])
	}
	return append(dst, l.index[string(l.keyBuf)]...), nil
}

// collector is the Output the table's rows are read into.
type collector struct {
	l     *lookup
	index map[string][][]types.Value
	buf   []byte
	mu    sync.Mutex
}

func (c *collector) Push(b *changelog.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range b.Rows {
		c.buf = c.buf[:0]
		null := false
		for i, k := range c.l.keys {
			if r.Vals[k].IsNull() {
				null = true
				break
			}
			c.buf = types.AppendKey(c.buf, r.Vals[k], c.l.kts[i])
		}
		if null {
			continue // a NULL key never matches
		}
		k := string(c.buf)
		c.index[k] = append(c.index[k], c.keep(r.Vals))
	}
	return nil
}

// keep copies the columns of vals the lookup keeps (row formats decode every column; only Parquet skips).
func (c *collector) keep(vals []types.Value) []types.Value {
	if c.l.used == nil {
		return changelog.CopyVals(vals)
	}
	row := make([]types.Value, len(vals))
	for _, i := range c.l.used {
		row[i] = vals[i]
	}
	return row
}

func (*collector) Watermark(int64) error { return nil }
func (*collector) End() error            { return nil }
