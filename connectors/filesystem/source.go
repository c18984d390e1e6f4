package filesystem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/parquet"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// CreateSource validates the options and the format. The source is bounded unless
// 'source.monitor-interval' is set in streaming mode.
func (f *Factory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	s, _, ff, err := f.setup(ctx, false)
	if err != nil {
		return nil, err
	}
	src := &source{s: s, ff: ff}
	src.unbounded, src.batch = s.monitor > 0 && !ctx.Batch, ctx.Batch
	return src, nil
}

type source struct {
	s         *settings
	ff        fileFormat
	unbounded bool
	batch     bool  // batch runtime mode: a failed subtask runs again alone (restart_subtask.go)
	project   []int // physical columns to read (nil: all); see ProjectColumns

	splits    connectors.SplitListener   // one listener for every file (SetSplitListener); nil: none
	subSplits []connectors.SplitListener // per subtask (SetSubtaskSplitListeners)

	mu       sync.Mutex
	done     map[string]bool  // files read completely
	reading  map[string]int64 // files being read (one per running subtask, or restored): rows pushed
	restored *sourcePos
	run      subtaskRun // the subtasks of the current run (subtasks.go)
}

var _ connectors.Checkpointed = (*source)(nil)

// sourcePos is the position: the files read completely, and the rows pushed of the files being read (one
// file in Cur and Rows, as before subtasks; several in Reading).
type sourcePos struct {
	Done    []string         `json:"done"`
	Cur     string           `json:"cur,omitempty"`
	Rows    int64            `json:"rows,omitempty"`
	Reading map[string]int64 `json:"reading,omitempty"`
}

var _ connectors.ProjectableSource = (*source)(nil)

// ApplyProjection is the planner's projection pushdown (connectors.ProjectableSource): the columns the query
// reads are passed to ProjectColumns (a ROW column read in part is read whole).
func (s *source) ApplyProjection(p *formats.Projection) {
	var used []int
	for i := range p.Need {
		if p.Needs(i) {
			used = append(used, i)
		}
	}
	s.ProjectColumns(used)
}

// ProjectColumns lists the physical columns a query reads. Rows keep their width; columns not listed are NULL, and a
// Parquet file is asked for the listed columns only (their column chunks alone are read and decoded). Call it
// before Run.
func (s *source) ProjectColumns(used []int) {
	s.project = append([]int(nil), used...)
}

func (*source) ChangelogMode() changelog.Mode { return changelog.InsertOnly }
func (s *source) Bounded() bool               { return !s.unbounded }

// Run reads every visible file below the path in name order (partition directories included), then, when
// monitoring, looks for new files every monitor interval (subtask 0 of 1; enumerator.go).
func (s *source) Run(ctx context.Context, out changelog.Output) error {
	return s.RunSubtask(ctx, out, 0, 1)
}

type dataFile struct {
	path, rel string
	values    []types.Value // partition values, in partition key order
}

// list finds the visible files: names starting with '.' or '_' (in-progress files, success files) are
// skipped, in directories too.
func (s *source) list() ([]dataFile, error) {
	root := s.s.path
	st, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("filesystem source: the path '%s' does not exist (option 'path')", root)
		}
		return nil, fmt.Errorf("filesystem source: %w", err)
	}
	if !st.IsDir() {
		return []dataFile{{path: root, rel: filepath.Base(root)}}, nil
	}
	before, err := readCommits(root) // the commits under way as the walk starts (commit_read.go)
	if err != nil {
		return nil, fmt.Errorf("filesystem source: %w", err)
	}
	var out []dataFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		df := dataFile{path: p, rel: rel}
		if df.values, err = s.partitionValues(rel); err != nil {
			return err
		}
		out = append(out, df)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("filesystem source: list '%s': %w", root, err)
	}
	if out, err = s.honourCommits(out, before); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

// hiddenRel: a path below the root that the walk skips (a name starting with '.' or '_').
func hiddenRel(rel string) bool {
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") {
			return true
		}
	}
	return false
}

// honourCommits drops the files of the batch sink's commits that are not complete from a listing, and adds
// the files of complete ones that the walk missed: those of the manifests read after the walk, and those of
// the manifests read before it (before) that are complete now (commit_read.go).
func (s *source) honourCommits(files []dataFile, before commitFiles) ([]dataFile, error) {
	root := s.s.path
	cf, err := readCommits(root)
	if err != nil {
		return nil, fmt.Errorf("filesystem source: %w", err)
	}
	if len(cf.hidden) == 0 && len(cf.done) == 0 && len(before.hidden) == 0 {
		return files, nil
	}
	listed := make(map[string]bool, len(files))
	kept := files[:0]
	for _, f := range files {
		if !cf.hidden[f.rel] {
			kept = append(kept, f)
			listed[f.rel] = true
		}
	}
	add := func(rel string) error {
		if listed[rel] || cf.hidden[rel] || hiddenRel(rel) {
			return nil
		}
		p := filepath.Join(root, rel)
		if st, err := os.Lstat(p); err != nil || st.IsDir() {
			return nil // not renamed (its commit given up), or removed since
		}
		df := dataFile{path: p, rel: rel}
		if df.values, err = s.partitionValues(rel); err != nil {
			return fmt.Errorf("filesystem source: list '%s': %w", root, err)
		}
		kept = append(kept, df)
		listed[rel] = true
		return nil
	}
	for _, rel := range cf.done {
		if err := add(rel); err != nil {
			return nil, err
		}
	}
	for rel := range before.hidden { // complete since, record removed or not
		if err := add(rel); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// partitionValues reads the partition columns from the 'k=v' directories of a file's relative path.
func (s *source) partitionValues(rel string) ([]types.Value, error) {
	keys := s.s.partitionKeys
	if len(keys) == 0 {
		return nil, nil
	}
	vals := make([]types.Value, len(keys))
	found := make([]bool, len(keys))
	dirs := strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/")
	for _, d := range dirs {
		k, v, ok := strings.Cut(d, "=")
		if !ok {
			continue
		}
		k = unescapePath(k)
		for i, pk := range keys {
			if pk == k {
				x, err := s.s.partitionValue(unescapePath(v), s.s.partitionTypes[i])
				if err != nil {
					return nil, fmt.Errorf("file '%s': partition directory '%s': %w", rel, d, err)
				}
				vals[i], found[i] = x, true
			}
		}
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("file '%s' is not in a partition directory '%s=...' of partition column '%s'", rel, keys[i], keys[i])
		}
	}
	return vals, nil
}

// readFile pushes the rows of one file after the first skip ones, telling sp which split they belong to; with
// hold, the subtask's watermark is held back until the file has been read (splits.go, enumerator.go).
func (s *source) readFile(ctx context.Context, df dataFile, skip int64, out changelog.Output, sp *fileSplits, hold bool) error {
	f, err := os.Open(df.path)
	if err != nil {
		return fmt.Errorf("filesystem source: %w", err)
	}
	defer f.Close()
	r, err := s.ff.newReader(ctx, f, s.project)
	if err != nil {
		return fmt.Errorf("filesystem source: file '%s': %w", df.path, err)
	}
	defer r.Close()
	s.mu.Lock()
	s.reading[df.rel] = skip
	s.mu.Unlock()
	batch := &changelog.Batch{}
	read := int64(0)
	split := sp.open(df.rel)
	if hold {
		sp.hold()
	}
	if pr, ok := r.(*parquet.Reader); ok && vec.Accepts(out) {
		if err := s.readColumns(ctx, pr, df, skip, out, sp, split); err != nil {
			return err
		}
		return s.endFile(df, out, sp)
	}
	if ar, ok := r.(*avroReader); ok && vec.Accepts(out) && ar.columnar() {
		if err := s.readAvroColumns(ctx, ar, df, skip, out, sp, split); err != nil {
			return err
		}
		return s.endFile(df, out, sp)
	}
	if lr, ok := r.(*lineReader); ok && vec.Accepts(out) {
		if cd := lr.columnDecoder(); cd != nil {
			if err := s.readLineColumns(ctx, lr, cd, df, skip, out, sp, split); err != nil {
				return err
			}
			return s.endFile(df, out, sp)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := r.Next()
		if err != nil {
			return fmt.Errorf("filesystem source: file '%s': %w", df.path, err)
		}
		if rows == nil {
			break
		}
		batch.Reset()
		for _, row := range rows {
			read++
			if read <= skip {
				continue
			}
			for i, j := range s.s.partitionIdx {
				row[j] = df.values[i]
			}
			batch.Append(changelog.Insert, row)
		}
		n := int64(batch.Len())
		sp.rows(split)
		if err := connectors.PushThen(out, batch, func() {
			s.mu.Lock()
			s.reading[df.rel] += n
			s.mu.Unlock()
		}); err != nil {
			return err
		}
	}
	return s.endFile(df, out, sp)
}

// endFile marks the file read.
func (s *source) endFile(df dataFile, out changelog.Output, sp *fileSplits) error {
	sp.finish(df.rel)
	sp.finish(holdSplit)
	return connectors.PushThen(out, &changelog.Batch{}, func() {
		s.mu.Lock()
		s.done[df.rel] = true
		delete(s.reading, df.rel)
		s.mu.Unlock()
	})
}

func (s *source) SnapshotPosition() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil && s.restored != nil {
		return json.Marshal(s.restored)
	}
	p := sourcePos{Done: make([]string, 0, len(s.done))}
	for f := range s.done {
		p.Done = append(p.Done, f)
	}
	if len(s.reading) == 1 {
		for f, n := range s.reading {
			p.Cur, p.Rows = f, n
		}
	} else if len(s.reading) > 1 {
		p.Reading = maps.Clone(s.reading)
	}
	sort.Strings(p.Done)
	return json.Marshal(p)
}

func (s *source) RestorePosition(pos []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restored, s.done, s.reading = nil, nil, nil
	if pos == nil {
		return nil
	}
	var p sourcePos
	if err := json.Unmarshal(pos, &p); err != nil {
		return fmt.Errorf("filesystem source: the position in the checkpoint is not readable: %w", err)
	}
	s.restored = &p
	return nil
}

func (s *source) CheckpointComplete(context.Context, []byte) error { return nil }
