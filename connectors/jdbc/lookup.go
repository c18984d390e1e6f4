package jdbc

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// lookup finds rows by key with a prepared SELECT, through an optional partial cache (LRU by keys, with
// expiry after write and after access), as Flink's JdbcRowDataLookupFunction with a DefaultLookupCache.
type lookup struct {
	cfg     *config
	keys    []int
	kts     []types.Type
	ts      []types.Type // the types of the selected columns, in SELECT order
	cols    []int        // nil: every column; else the physical columns selected (ApplyProjection), in order
	query   string
	conn    *pgx.Conn
	retries int
	cache   *cache
	keyBuf  []byte
	args    []any
	now     func() time.Time
}

func newLookup(cfg *config, keys []int) *lookup {
	l := &lookup{cfg: cfg, keys: keys, kts: keyTypes(cfg.cols, keys), retries: LookupMaxRetries.Get(cfg.r), now: time.Now}
	l.buildQuery()
	if LookupCache.Get(cfg.r) == "PARTIAL" {
		l.cache = &cache{max: int(LookupMaxRows.Get(cfg.r)), write: LookupExpireAfterWrite.Get(cfg.r),
			access: LookupExpireAfterAccess.Get(cfg.r), missing: LookupCacheMissingKey.Get(cfg.r),
			byKey: map[string]*list.Element{}, lru: list.New()}
	}
	l.args = make([]any, len(keys))
	return l
}

var (
	_ connectors.ProjectableLookupSource = (*lookup)(nil)
	_ connectors.TaskLookupSource        = (*lookup)(nil)
)

// TaskLookup is a lookup over the same table for another task of a batch stage
// (connectors.TaskLookupSource): the same keys, projection (applied before) and options, with a connection
// and a partial cache of its own (as each subtask of Flink's lookup function has), so the tasks look up at
// the same time instead of taking turns on one connection.
func (l *lookup) TaskLookup() connectors.LookupSource {
	t := newLookup(l.cfg, l.keys)
	t.now = l.now
	if l.cols != nil {
		t.cols = append([]int(nil), l.cols...)
		t.buildQuery()
	}
	return t
}

// ApplyProjection is projection pushdown into the lookup join (connectors.ProjectableLookupSource): the
// SELECT then names only the columns p needs (and the keys); the rows keep the table's width with the other
// columns NULL. The cache is keyed as before and holds the projected rows.
func (l *lookup) ApplyProjection(p *formats.Projection) {
	l.cols = l.cols[:0]
	for i := range l.cfg.cols {
		if p.Needs(i) || slices.Contains(l.keys, i) {
			l.cols = append(l.cols, i)
		}
	}
	l.buildQuery()
}

// buildQuery sets the SELECT by the keys of the selected columns (all of them when l.cols is nil).
func (l *lookup) buildQuery() {
	sel := l.cols
	if sel == nil {
		sel = make([]int, len(l.cfg.cols))
		for i := range sel {
			sel[i] = i
		}
	}
	l.ts = l.ts[:0]
	var names []string
	for _, i := range sel {
		l.ts = append(l.ts, l.cfg.cols[i].Type)
		names = append(names, pgx.Identifier{l.cfg.cols[i].Name}.Sanitize())
	}
	var where []string
	for n, i := range l.keys {
		where = append(where, fmt.Sprintf("%s = $%d", pgx.Identifier{l.cfg.cols[i].Name}.Sanitize(), n+1))
	}
	l.query = "SELECT " + strings.Join(names, ", ") + " FROM " + l.cfg.ident.Sanitize() + " WHERE " + strings.Join(where, " AND ")
}

func (l *lookup) Open(ctx context.Context) error {
	l.Close() // a restarted job opens the source again
	conn, err := l.cfg.connect(ctx)
	if err != nil {
		return err
	}
	if err := l.cfg.checkColumns(ctx, conn); err != nil {
		conn.Close(context.Background())
		return err
	}
	l.conn = conn
	return nil
}

func (l *lookup) Close() error {
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close(context.Background())
	l.conn = nil
	return err
}

// Lookup returns the rows whose key columns equal key.
func (l *lookup) Lookup(ctx context.Context, key []types.Value, dst [][]types.Value) ([][]types.Value, error) {
	for _, v := range key {
		if v.IsNull() {
			return dst, nil
		}
	}
	if l.cache != nil {
		l.keyBuf = l.keyBuf[:0]
		for i, v := range key {
			l.keyBuf = types.AppendKey(l.keyBuf, v, l.kts[i])
		}
		if rows, ok := l.cache.get(l.keyBuf, l.now()); ok {
			return append(dst, rows...), nil
		}
	}
	rows, err := l.query1(ctx, key)
	if err != nil {
		return dst, err
	}
	if l.cache != nil && (len(rows) > 0 || l.cache.missing) {
		l.cache.put(string(l.keyBuf), rows, l.now())
	}
	return append(dst, rows...), nil
}

// query1 runs the SELECT, retrying up to lookup.max-retries times (reconnecting when needed).
func (l *lookup) query1(ctx context.Context, key []types.Value) ([][]types.Value, error) {
	for i, v := range key {
		l.args[i] = toPG(v, l.kts[i])
	}
	var err error
	for attempt := 0; ; attempt++ {
		var rows [][]types.Value
		if rows, err = l.try(ctx); err == nil {
			return rows, nil
		}
		if attempt >= l.retries || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(time.Duration(attempt+1) * time.Second):
		case <-ctx.Done():
		}
		if l.conn == nil || l.conn.IsClosed() {
			if conn, cerr := l.cfg.connect(ctx); cerr == nil {
				l.conn = conn
			} else {
				err = cerr
			}
		}
	}
	return nil, fmt.Errorf("jdbc lookup table '%s': querying table '%s' in %s failed after %d retries ('lookup.max-retries'): %w",
		l.cfg.table.Name, l.cfg.name, l.cfg.where(), l.retries, err)
}

func (l *lookup) try(ctx context.Context) ([][]types.Value, error) {
	if l.conn == nil || l.conn.IsClosed() {
		return nil, fmt.Errorf("the connection is closed")
	}
	rows, err := l.conn.Query(ctx, l.query, l.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]types.Value
	for rows.Next() {
		vals, err := l.rowOf(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// rowOf converts the current row of the SELECT: the table's columns in order, those a projection did not
// select NULL.
func (l *lookup) rowOf(rows pgx.Rows) ([]types.Value, error) {
	if l.cols == nil {
		return rowValues(rows, l.ts)
	}
	raw, err := rows.Values()
	if err != nil {
		return nil, err
	}
	vals := make([]types.Value, len(l.cfg.cols))
	for k, x := range raw {
		v, err := fromPG(x, l.ts[k])
		if err != nil {
			return nil, fmt.Errorf("column '%s': %w", rows.FieldDescriptions()[k].Name, err)
		}
		vals[l.cols[k]] = v
	}
	return vals, nil
}

// cache is the partial lookup cache: at most max keys (0: no limit), least recently used evicted first.
type cache struct {
	max           int
	write, access time.Duration
	missing       bool
	byKey         map[string]*list.Element
	lru           *list.List // front: most recently used
}

type entry struct {
	key      string
	rows     [][]types.Value
	written  time.Time
	accessed time.Time
}

func (c *cache) get(key []byte, now time.Time) ([][]types.Value, bool) {
	el, ok := c.byKey[string(key)]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if (c.write > 0 && now.Sub(e.written) >= c.write) || (c.access > 0 && now.Sub(e.accessed) >= c.access) {
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		return nil, false
	}
	e.accessed = now
	c.lru.MoveToFront(el)
	return e.rows, true
}

func (c *cache) put(key string, rows [][]types.Value, now time.Time) {
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*entry)
		e.rows, e.written, e.accessed = rows, now, now
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[key] = c.lru.PushFront(&entry{key: key, rows: rows, written: now, accessed: now})
	for c.max > 0 && c.lru.Len() > c.max {
		back := c.lru.Back()
		c.lru.Remove(back)
		delete(c.byKey, back.Value.(*entry).key)
	}
}
