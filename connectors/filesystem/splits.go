package filesystem

import (
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
)

// Per-file watermarks: every file is a split (connectors.SubtaskSplitSource), as every Kafka partition is, and
// the engine's split watermark assigners (exec.SplitWatermarks) keep a watermark per file and emit the
// minimum over the files that count. A subtask reads the files the enumerator hands it one after the other
// (enumerator.go). While it reads a file that is not its round's closing file, it also announces a hold
// split, which has no rows and so holds the subtask's watermark at the lowest: the rows of the round's other
// files, however far behind the file being read, are not late (with one subtask as with several: the
// closing file is read alone, after every other file of the round). It announces a file as it opens it
// (which starts its idle clock), tells which file each pushed batch comes from, and finishes a file and the
// hold after the file's last row (a finished file no longer holds the watermark back). Split ids are per
// subtask; a finished split's id is reused, so a subtask tracks two splits at most.
//
// With an idle timeout ('scan.watermark.idle-timeout', else the session's 'table.exec.source.idle-timeout'),
// a file that delivered no rows for that long stops holding the watermark back until its next rows: that
// includes a hold split while its file takes longer to read, so the rows of the round's other files may then
// be late.
//
// The watermark of the subtasks' union is checkpointed by the engine (exec.SubtaskWatermarkState), the files'
// positions by the source: both restore at any parallelism. Every file's split is named by its relative path
// (connectors.SplitNamer), so a file half read at the checkpoint restores with its own watermark in whichever
// subtask reads it next; a file read completely is done in the position, not read again and so not announced
// (it holds nothing back). The restored union never sends a watermark downstream already saw.

// WatermarkIdleTimeout is the generic 'scan.watermark.idle-timeout' option, for this connector's file splits.
var WatermarkIdleTimeout = options.Duration("scan.watermark.idle-timeout").
	Desc("A file without rows for this long stops holding back the table's watermark until it has rows again (watermarks are tracked per file and combined as their minimum; files waiting to be read count as without rows); the session default is 'table.exec.source.idle-timeout'; 0 disables idleness.")

var _ connectors.SubtaskSplitSource = (*source)(nil)

// SetSplitListener is called by the engine before Run when the table has a watermark and the source runs as
// one instance (a source read by several branches, or a batch job).
func (s *source) SetSplitListener(l connectors.SplitListener) { s.splits = l }

// SetSubtaskSplitListeners gives every subtask its own split listener (the watermark assigner chained into it).
func (s *source) SetSubtaskSplitListeners(ls []connectors.SplitListener) { s.subSplits = ls }

// WatermarkIdleTimeout is 'scan.watermark.idle-timeout' when the table sets it.
func (s *source) WatermarkIdleTimeout() (time.Duration, bool) { return s.s.idle, s.s.hasIdle }

// WatermarkAlignment: the connector has no alignment options ('scan.watermark.alignment.*' are refused).
func (s *source) WatermarkAlignment() (string, time.Duration, bool) { return "", 0, false }

// fileSplits numbers the files of one subtask for its split listener. A nil *fileSplits (no listener: the
// table has no WATERMARK) does nothing.
type fileSplits struct {
	l    connectors.SplitListener
	ids  map[string]int // announced files not finished yet
	free []int          // ids of finished files
	next int
}

// fileSplits returns the split numbering of subtask i of n, nil without a listener.
func (s *source) fileSplits(i, n int) *fileSplits {
	l := s.splits
	if len(s.subSplits) == n && i < n {
		l = s.subSplits[i]
	}
	if l == nil {
		return nil
	}
	return &fileSplits{l: l, ids: map[string]int{}}
}

// announce adds the file at rel as a split unless it was announced already, and returns its id.
func (f *fileSplits) announce(rel string) int {
	if f == nil {
		return -1
	}
	if id, ok := f.ids[rel]; ok {
		return id
	}
	var id int
	if n := len(f.free); n > 0 {
		id, f.free = f.free[n-1], f.free[:n-1]
	} else {
		id, f.next = f.next, f.next+1
	}
	f.ids[rel] = id
	f.add(id, rel)
	return id
}

// add announces split id for the file at rel and names it by the file's relative path (connectors.SplitNamer),
// so that its watermark is checkpointed and a file half read restores with it, in whichever subtask reads
// it next. A file read completely is done in the position and not read (nor announced) again; the hold split
// has no name: it has no rows and no watermark of its own.
func (f *fileSplits) add(id int, rel string) {
	f.l.AddSplit(id)
	if n, ok := f.l.(connectors.SplitNamer); ok && rel != holdSplit {
		n.NameSplit(id, rel)
	}
}

// holdSplit names the hold split in the numbering (no file's relative path is empty).
const holdSplit = ""

// hold announces the hold split: it holds the subtask's watermark back until finish(holdSplit).
func (f *fileSplits) hold() { f.announce(holdSplit) }

// open announces the file at rel again as its reading starts (it has delivered no rows yet: its idle clock
// restarts), and returns its id.
func (f *fileSplits) open(rel string) int {
	if f == nil {
		return -1
	}
	id, ok := f.ids[rel]
	if !ok {
		return f.announce(rel)
	}
	f.add(id, rel)
	return id
}

// rows says that the next push carries rows of split id.
func (f *fileSplits) rows(id int) {
	if f != nil {
		f.l.SplitRows(id)
	}
}

// finish says that the file at rel has no more rows; its id is free again.
func (f *fileSplits) finish(rel string) {
	if f == nil {
		return
	}
	id, ok := f.ids[rel]
	if !ok {
		return
	}
	delete(f.ids, rel)
	f.free = append(f.free, id)
	f.l.FinishSplit(id)
}

// tick pushes an empty batch so that the watermark assigner re-evaluates the splits (a subtask without files
// becomes idle in the subtasks' union).
func (f *fileSplits) tick(out changelog.Output) error {
	if f == nil {
		return nil
	}
	return out.Push(&changelog.Batch{})
}
