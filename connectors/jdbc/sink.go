package jdbc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

type sink struct{ cfg *config }

func newSink(cfg *config) *sink { return &sink{cfg: cfg} }

// Accepts: an upsert table (PRIMARY KEY) takes every kind; a table without one is append-only, as in
// Flink (the planner then refuses updating queries).
func (s *sink) Accepts() changelog.KindSet {
	if len(s.cfg.pk) > 0 {
		return changelog.AllKinds.Kinds
	}
	return changelog.KindsOf(changelog.Insert)
}

// Open connects, checks the database table's columns and prepares the statements.
func (s *sink) Open(ctx context.Context) (changelog.Output, error) { return s.open(ctx, true) }

// open connects and prepares the statements; check: the database table's columns and key are checked
// first (the tasks of a batch sink stage skip it: OpenTasks checked them once).
func (s *sink) open(ctx context.Context, check bool) (*output, error) {
	c := s.cfg
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	if check {
		err = c.checkColumns(ctx, conn)
		if err == nil {
			err = c.checkUpsertKey(ctx, conn)
		}
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	o := &output{cfg: c, conn: conn, maxRows: SinkMaxRows.Get(c.r), retries: SinkMaxRetries.Get(c.r),
		keys: map[string]int{}, ctx: context.WithoutCancel(ctx)}
	o.ts = make([]types.Type, len(c.cols))
	for i, col := range c.cols {
		o.ts[i] = col.Type
	}
	o.buildSQL()
	if d := SinkInterval.Get(c.r); d > 0 {
		o.stop = make(chan struct{})
		o.done = make(chan struct{})
		go o.ticker(d)
	}
	return o, nil
}

// output buffers rows and writes them in batches. An upsert table keeps the last change per key in the
// buffer (Flink's reduced buffer), so a flush writes each key once.
type output struct {
	cfg     *config
	ctx     context.Context
	conn    *pgx.Conn
	ts      []types.Type
	maxRows int
	retries int
	upsert  string // INSERT (append) or INSERT ... ON CONFLICT DO UPDATE (upsert)
	del     string

	mu      sync.Mutex
	buf     []change
	keys    map[string]int // encoded key → index in buf (upsert)
	keyBuf  []byte
	err     error // a failed timed flush, reported by the next call
	stop    chan struct{}
	done    chan struct{}
	closed  bool
	written int64
}

type change struct {
	del  bool
	vals []types.Value
}

func (o *output) buildSQL() {
	c := o.cfg
	tbl := c.ident.Sanitize()
	names := make([]string, len(c.cols))
	params := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = pgx.Identifier{col.Name}.Sanitize()
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	ins := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", tbl, strings.Join(names, ", "), strings.Join(params, ", "))
	if len(c.pk) == 0 {
		o.upsert = ins
		return
	}
	var pk, set, where []string
	isPK := map[int]bool{}
	for n, i := range c.pk {
		isPK[i] = true
		pk = append(pk, names[i])
		where = append(where, fmt.Sprintf("%s = $%d", names[i], n+1))
	}
	for i := range c.cols {
		if !isPK[i] {
			set = append(set, fmt.Sprintf("%s = EXCLUDED.%s", names[i], names[i]))
		}
	}
	if len(set) == 0 {
		o.upsert = ins + " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO NOTHING"
	} else {
		o.upsert = ins + " ON CONFLICT (" + strings.Join(pk, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
	}
	o.del = fmt.Sprintf("DELETE FROM %s WHERE %s", tbl, strings.Join(where, " AND "))
}

func (o *output) Push(b *changelog.Batch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	upsert := len(o.cfg.pk) > 0
	for _, r := range b.Rows {
		// A -U deletes the key unless the +U that usually follows replaces it in the buffer (a filter after
		// an aggregate can drop the +U: the row must then go).
		ch := change{del: r.Kind.IsRetract(), vals: changelog.CopyVals(r.Vals)}
		if !upsert {
			o.buf = append(o.buf, ch)
		} else {
			o.keyBuf = o.keyBuf[:0]
			for _, i := range o.cfg.pk {
				o.keyBuf = types.AppendKey(o.keyBuf, r.Vals[i], o.ts[i])
			}
			if j, ok := o.keys[string(o.keyBuf)]; ok {
				o.buf[j] = ch
				continue
			}
			o.keys[string(o.keyBuf)] = len(o.buf)
			o.buf = append(o.buf, ch)
		}
		// Flush every 'sink.buffer-flush.max-rows' rows, also inside a large batch (as Flink's buffer).
		if o.maxRows > 0 && len(o.buf) >= o.maxRows {
			if err := o.flushLocked(o.ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *output) Watermark(int64) error { return nil }

func (o *output) ticker(d time.Duration) {
	defer close(o.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			o.mu.Lock()
			if o.err == nil && !o.closed {
				o.err = o.flushLocked(o.ctx)
			}
			o.mu.Unlock()
		}
	}
}

// flushLocked writes the buffer in one transaction, retrying up to sink.max-retries times (reconnecting
// when the connection broke). The buffer is kept until a write succeeds.
func (o *output) flushLocked(ctx context.Context) error {
	if len(o.buf) == 0 {
		return nil
	}
	var err error
	for attempt := 0; ; attempt++ {
		if err = o.write(ctx); err == nil {
			o.written += int64(len(o.buf))
			o.buf = o.buf[:0]
			clear(o.keys)
			return nil
		}
		if attempt >= o.retries || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(time.Duration(attempt+1) * time.Second): // Flink: 1s × attempt
		case <-ctx.Done():
		}
		if o.conn == nil || o.conn.IsClosed() {
			if conn, cerr := o.cfg.connect(ctx); cerr == nil {
				o.conn = conn
			} else {
				err = cerr
			}
		}
	}
	return fmt.Errorf("jdbc sink '%s': writing %d rows to table '%s' failed after %d retries ('sink.max-retries'): %w",
		o.cfg.table.Name, len(o.buf), o.cfg.name, o.retries, err)
}

func (o *output) write(ctx context.Context) error {
	if o.conn == nil || o.conn.IsClosed() {
		return errors.New("the connection is closed")
	}
	var batch pgx.Batch
	for _, ch := range o.buf {
		if ch.del {
			args := make([]any, len(o.cfg.pk))
			for n, i := range o.cfg.pk {
				args[n] = toPG(ch.vals[i], o.ts[i])
			}
			batch.Queue(o.del, args...)
			continue
		}
		args := make([]any, len(ch.vals))
		for i, v := range ch.vals {
			args[i] = toPG(v, o.ts[i])
		}
		batch.Queue(o.upsert, args...)
	}
	tx, err := o.conn.Begin(ctx)
	if err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

func (o *output) End() error {
	o.mu.Lock()
	err := o.err
	if err == nil {
		err = o.flushLocked(o.ctx)
	}
	o.mu.Unlock()
	if cerr := o.close(); err == nil {
		err = cerr
	}
	return err
}

// Abort drops what was not flushed and closes the connection.
func (o *output) Abort() error { return o.close() }

func (o *output) close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	if o.stop != nil {
		close(o.stop)
		<-o.done
	}
	if o.conn != nil {
		return o.conn.Close(context.Background())
	}
	return nil
}

var (
	_ connectors.CheckpointedSink = (*output)(nil)
	_ connectors.Aborter          = (*output)(nil)
)

// Restore has nothing to finish: every checkpoint's rows were written before it completed.
func (o *output) Restore(context.Context, []byte, int64) error { return nil }

// PreCommit flushes the buffer: the rows of the checkpoint are in the database before it completes. Upserts
// and deletes are idempotent, so replaying the rows after the checkpoint on restore gives exactly-once
// results for a table with a PRIMARY KEY (append tables are at-least-once).
func (o *output) PreCommit(ctx context.Context, _ int64) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return nil, o.err
	}
	return nil, o.flushLocked(ctx)
}

func (o *output) Commit(context.Context, int64) error { return nil }
