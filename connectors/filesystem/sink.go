package filesystem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// CreateSink validates the options and the format; the sink writes under 'path'.
func (f *Factory) CreateSink(ctx connectors.Context) (connectors.Sink, error) {
	s, consumed, ff, err := f.setup(ctx, true)
	if err != nil {
		return nil, err
	}
	_ = consumed
	return &sink{s: s, ff: ff, now: time.Now, batch: ctx.Batch, stderr: ctx.StderrWriter()}, nil
}

func (f *Factory) setup(ctx connectors.Context, encode bool) (*settings, []string, fileFormat, error) {
	r, err := connectors.ValidateOptions(f, ctx.Options)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := settingsFrom(r, ctx.Table)
	if err != nil {
		return nil, nil, nil, err
	}
	ff, consumed, err := newFileFormat(ctx, s, encode)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("table %s, format '%s': %w", ctx.Table.Name, s.format, err)
	}
	return s, consumed, ff, nil
}

type sink struct {
	s        *settings
	ff       fileFormat
	now      func() time.Time
	batch    bool // a batch job's: its End commits whole or nothing (sink_commit.go)
	identity string
	stderr   io.Writer
}

var _ connectors.RunIdentitySink = (*sink)(nil)

// SetRunIdentity sets the identity of the statement that writes the sink (sink_commit.go).
func (k *sink) SetRunIdentity(id string) { k.identity = id }

func (*sink) Accepts() changelog.KindSet { return changelog.KindsOf(changelog.Insert) }

// Open takes over the records of killed batch runs into the path first (sink_commit.go); a batch output
// gets a record of its own.
func (k *sink) Open(ctx context.Context) (changelog.Output, error) {
	if err := os.MkdirAll(k.s.path, 0o755); err != nil {
		return nil, fmt.Errorf("filesystem sink: cannot create the directory '%s': %w", k.s.path, err)
	}
	o := &output{s: k.s, ff: k.ff, now: k.now, parts: map[string]*partState{}, watermark: -1 << 63}
	o.main = o.newWriter(0)
	o.prefix = newUUID()
	notice := func(format string, args ...any) { fmt.Fprintf(k.stderr, format+"\n", args...) }
	rerunOf, err := takeOver(k.s.path, k.identity, k.batch, notice)
	if err != nil {
		return nil, err
	}
	if !k.batch {
		return o, nil
	}
	if o.run, err = startRun(k.s.path, k.identity, o.prefix, k.now()); err != nil {
		if rerunOf != nil {
			rerunOf.release()
		}
		return nil, err
	}
	o.rerunOf, o.skip = rerunOf, rerunOf != nil
	return o, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// output writes the rows. Files go through three states, as in Flink's FileSink: in-progress (open, a
// hidden '.part-...inprogress.<uuid>' name), pending (closed, still hidden, waiting for a checkpoint) and
// finished (renamed to 'part-<uuid>-<subtask>-<n>'). The output's own rows go through main (subtask 0);
// subtasks that write the sink outside the graph lock (connectors.ConcurrentOutput) have a writer each
// (subs), with part files of their own. Pushes, PreCommit, End and Abort run under the job's lock, and the
// engine calls PreCommit, End and Abort only while no subtask writes; Commit may run concurrently with
// pushes, so the pending list, the counters and the partitions to commit are under mu.
type output struct {
	s         *settings
	ff        fileFormat
	now       func() time.Time
	prefix    string // the uuid of this sink's part files, kept across restores
	watermark int64
	ended     bool
	main      *writer

	// batch (sink_commit.go): the run's record, the killed run whose rerun this is (nil: none), and skip:
	// the rows are dropped (the killed run's result is there)
	run     *batchRun
	rerunOf *batchRun
	skip    bool

	mu       sync.Mutex
	counters []int64               // the next part file number, by subtask
	subs     []*writer             // the subtasks' writers
	pending  []pendingFile         // closed files not yet renamed
	parts    map[string]*partState // partitions with rows not yet committed by the partition commit policy
}

// writer writes the part files of one subtask: one open file per partition (bucket).
type writer struct {
	o         *output
	sub       int                // the subtask in the part files' names
	buckets   map[string]*bucket // by partition directory ("" for an unpartitioned table)
	row       []types.Value
	key       []byte
	values    []string
	lastCheck time.Time

	// the columnar path (columns.go)
	pvals  []types.Value       // partition values of a row, at their physical positions
	groups map[*bucket][]int32 // rows of the batch by bucket
	order  []*bucket           // the buckets of the batch, in order of first row
	view   vec.Batch           // the data columns of a batch
	conv   vec.RowConv         // batches of a format written from rows
}

func (o *output) newWriter(sub int) *writer {
	return &writer{o: o, sub: sub, buckets: map[string]*bucket{}, row: make([]types.Value, len(o.s.dataIdx)), lastCheck: o.now()}
}

// NewSubtaskWriter returns the writer of subtask i: its part files are named 'part-<uuid>-<i>-<n>'.
func (o *output) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	w := o.newWriter(i)
	o.mu.Lock()
	o.subs = append(o.subs, w)
	o.mu.Unlock()
	return w, nil
}

// writers returns every writer of the output.
func (o *output) writers() []*writer {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*writer{o.main}, o.subs...)
}

// nextFile returns the next part file number of subtask sub.
func (o *output) nextFile(sub int) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.counters) <= sub {
		o.counters = append(o.counters, 0)
	}
	n := o.counters[sub]
	o.counters[sub]++
	return n
}

var _ connectors.ConcurrentOutput = (*output)(nil)

type bucket struct {
	dir             string // relative partition directory
	values          []string
	f               *os.File
	w               rowWriter
	tmp, final      string // absolute paths
	opened, lastRow time.Time
}

type pendingFile struct {
	Tmp   string `json:"tmp"`
	Final string `json:"final"`
	// Checkpoint is the checkpoint that pre-committed the file (0: not yet).
	Checkpoint int64   `json:"-"`
	w          *writer // the writer that wrote it (DiscardSubtaskWriter)
}

type partState struct {
	Dir    string   `json:"dir"`
	Values []string `json:"values"`
	// Created is when the partition got its first row (processing time, epoch ms).
	Created int64 `json:"created"`
	// Checkpoint is the checkpoint whose files contain the partition's newest rows (0: not yet).
	Checkpoint int64 `json:"ckpt"`
	// Watermark is the watermark when that checkpoint was taken.
	Watermark int64 `json:"wm"`
}

func (o *output) Push(b *changelog.Batch) error { return o.main.Push(b) }

// Push writes the rows to the subtask's files.
func (o *writer) Push(b *changelog.Batch) error {
	if o.o.skip {
		return nil // a killed run's rerun (sink_commit.go)
	}
	now := o.o.now()
	for _, r := range b.Rows {
		bk, err := o.bucketOf(r.Vals, now)
		if err != nil {
			return err
		}
		for i, j := range o.o.s.dataIdx {
			o.row[i] = r.Vals[j]
		}
		if err := bk.w.Write(o.row); err != nil {
			return fmt.Errorf("filesystem sink: write '%s': %w", bk.tmp, err)
		}
		bk.lastRow = now
		if bk.w.Size() >= o.o.s.fileSize {
			if err := o.roll(bk); err != nil {
				return err
			}
		}
	}
	return o.checkRolls(now)
}

// checkRolls rolls the files open too long or inactive too long, every check interval.
func (o *writer) checkRolls(now time.Time) error {
	if now.Sub(o.lastCheck) >= o.o.s.check {
		o.lastCheck = now
		for _, bk := range o.buckets {
			if now.Sub(bk.opened) >= o.o.s.rollover || now.Sub(bk.lastRow) >= o.o.s.inactivity {
				if err := o.roll(bk); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// bucketOf returns the open part file of the row's partition, opening one if needed.
func (o *writer) bucketOf(vals []types.Value, now time.Time) (*bucket, error) {
	key := o.key[:0]
	o.values = o.values[:0]
	for i, j := range o.o.s.partitionIdx {
		text, err := partitionText(vals[j], o.o.s.partitionTypes[i])
		if err != nil {
			return nil, fmt.Errorf("filesystem sink: partition column '%s': %w", o.o.s.partitionKeys[i], err)
		}
		if text == "" {
			text = o.o.s.defaultPart
		}
		o.values = append(o.values, text)
		key = append(escapePath(key, o.o.s.partitionKeys[i]), '=')
		key = append(escapePath(key, text), '/')
	}
	o.key = key
	if bk, ok := o.buckets[string(key)]; ok && bk.w != nil {
		return bk, nil
	}
	dir := string(key)
	bk := o.buckets[dir]
	if bk == nil {
		bk = &bucket{dir: dir, values: append([]string(nil), o.values...)}
		o.buckets[dir] = bk
	}
	if err := o.open(bk, now); err != nil {
		return nil, err
	}
	if len(o.o.s.partitionKeys) > 0 {
		o.o.mu.Lock()
		ps := o.o.parts[dir]
		if ps == nil {
			o.o.parts[dir] = &partState{Dir: dir, Values: bk.values, Created: now.UnixMilli()}
		} else {
			ps.Checkpoint = 0
		}
		o.o.mu.Unlock()
	}
	return bk, nil
}

func (o *writer) open(bk *bucket, now time.Time) error {
	dir := filepath.Join(o.o.s.path, bk.dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("filesystem sink: cannot create the directory '%s': %w", dir, err)
	}
	name := fmt.Sprintf("part-%s-%d-%d", o.o.prefix, o.sub, o.o.nextFile(o.sub))
	bk.final = filepath.Join(dir, name)
	bk.tmp = filepath.Join(dir, "."+name+".inprogress."+newUUID())
	f, err := os.OpenFile(bk.tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("filesystem sink: %w", err)
	}
	w, err := o.o.ff.newWriter(f)
	if err != nil {
		f.Close()
		os.Remove(bk.tmp)
		return fmt.Errorf("filesystem sink: start '%s': %w", bk.tmp, err)
	}
	bk.f, bk.w, bk.opened, bk.lastRow = f, w, now, now
	return nil
}

// roll closes the bucket's in-progress file; it becomes pending (committed by the next checkpoint).
func (o *writer) roll(bk *bucket) error {
	if bk.w == nil {
		return nil
	}
	err := bk.w.Close()
	if err == nil {
		err = bk.f.Sync()
	}
	if cerr := bk.f.Close(); err == nil {
		err = cerr
	}
	bk.w, bk.f = nil, nil
	if err != nil {
		return fmt.Errorf("filesystem sink: close '%s': %w", bk.tmp, err)
	}
	o.o.mu.Lock()
	o.o.pending = append(o.o.pending, pendingFile{Tmp: bk.tmp, Final: bk.final, w: o})
	o.o.mu.Unlock()
	return nil
}

func (o *writer) rollAll() error {
	for _, bk := range o.buckets {
		if err := o.roll(bk); err != nil {
			return err
		}
	}
	return nil
}

func (o *output) Watermark(ts int64) error {
	if ts > o.watermark {
		o.watermark = ts
	}
	return nil
}

func (o *output) rollAll() error {
	for _, w := range o.writers() {
		if err := w.rollAll(); err != nil {
			return err
		}
	}
	return nil
}

// End closes every file, makes every file visible and commits every partition (the input is complete). A
// batch output does it whole or nothing, through its commit manifest (sink_commit.go).
func (o *output) End() error {
	if o.ended {
		return nil
	}
	o.ended = true
	if o.run != nil {
		return o.commitRun()
	}
	if err := o.rollAll(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.finish(1<<63 - 1); err != nil {
		return err
	}
	for dir, ps := range o.parts {
		if err := o.commitPartition(ps); err != nil {
			return err
		}
		delete(o.parts, dir)
	}
	return nil
}

// Abort closes the open files and removes them: they were not pre-committed, a restore writes their rows
// again. Pending files stay for the restore to finish, except a batch output's (nothing restores them):
// they are removed with its record.
func (o *output) Abort() error {
	if o.ended {
		return nil
	}
	o.ended = true
	for _, w := range o.writers() {
		for _, bk := range w.buckets {
			if bk.w != nil {
				bk.f.Close()
				os.Remove(bk.tmp)
				bk.w, bk.f = nil, nil
			}
		}
	}
	if o.run != nil {
		return o.abortRun()
	}
	return nil
}

// finish renames the pending files pre-committed by checkpoint id or earlier (o.mu held).
func (o *output) finish(id int64) error {
	keep := o.pending[:0]
	var err error
	for _, p := range o.pending {
		if err == nil && (p.Checkpoint != 0 && p.Checkpoint <= id || id == 1<<63-1) {
			if e := os.Rename(p.Tmp, p.Final); e != nil {
				err = fmt.Errorf("filesystem sink: commit '%s': %w", p.Final, e)
			} else {
				continue
			}
		}
		keep = append(keep, p)
	}
	o.pending = keep
	return err
}
