package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

// restartPolicy is the restart strategy of a batch job: the restarts of its stages (batch_exchange.go), or
// of its sink stage when the job runs pipelined.
type restartPolicy struct {
	attempts int
	delay    time.Duration
}

// batchRestartPolicy is the restart strategy of a batch job's stages: fixed-delay by default
// ('restart-strategy.fixed-delay.attempts' restarts, 2, waiting '.delay', 1 s); 'none'; 'exponential-delay'
// ('.attempts-before-reset-backoff' restarts, else 2, waiting '.initial-backoff'); 'failure-rate'
// ('.max-failures-per-interval' restarts, waiting 'restart-strategy.failure-rate.delay').
func (s *Session) batchRestartPolicy() (restartPolicy, error) {
	r, err := sessionRestartStrategy(s.opts)
	if err != nil {
		return restartPolicy{attempts: 1}, err
	}
	switch r.Kind {
	case "none":
		return restartPolicy{attempts: 1}, nil
	case "exponential-delay":
		n := r.MaxAttempts
		if n == 0 {
			n = 2
		}
		return restartPolicy{attempts: n + 1, delay: r.InitialBackoff}, nil
	case "failure-rate":
		return restartPolicy{attempts: r.MaxFailures + 1, delay: r.Delay}, nil
	}
	return restartPolicy{attempts: r.Attempts + 1, delay: r.Delay}, nil // the first run plus the restarts
}

// sinkStage is the last stage of a batch job run pipelined ('execution.batch-shuffle-mode' =
// 'ALL_EXCHANGES_PIPELINED', or writing a batch savepoint; staged jobs cut in front of their sinks instead,
// batch_exchange.go): it
// materializes its input (the final rows) in a spill file,
// then writes them to the sink. When writing fails, the stage restarts from that intermediate result (the
// sources are not read again): the sink is opened anew and the rows are replayed, up to the restart
// policy's attempts. Writes are at-least-once: a failed attempt may have written some rows already.
type sinkStage struct {
	table  string
	sink   connectors.Sink
	types  []types.Type
	policy restartPolicy
	notice io.Writer
	jobID  string
	dir    string

	file  *os.File
	w     *bufio.Writer
	n     int64
	buf   []byte
	ended bool
}

func (s *sinkStage) Push(b *changelog.Batch) error {
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, "sluice-stage-*.rows")
		if err != nil {
			return fmt.Errorf("batch stage for sink %s: cannot create its intermediate result file: %w", s.table, err)
		}
		s.file, s.w = f, bufio.NewWriterSize(f, 256<<10)
	}
	var lenBuf [binary.MaxVarintLen64]byte
	for _, r := range b.Rows {
		if r.Kind != changelog.Insert {
			return fmt.Errorf("batch stage for sink %s: got a %s row; batch results are insert-only", s.table, r.Kind)
		}
		s.buf = types.AppendRowBinary(s.buf[:0], r.Vals, s.types)
		k := binary.PutUvarint(lenBuf[:], uint64(len(s.buf)))
		if _, err := s.w.Write(lenBuf[:k]); err != nil {
			return fmt.Errorf("batch stage for sink %s: writing its intermediate result: %w", s.table, err)
		}
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("batch stage for sink %s: writing its intermediate result: %w", s.table, err)
		}
		s.n++
	}
	return nil
}

func (s *sinkStage) Watermark(int64) error { return nil }

func (s *sinkStage) End() error {
	if s.ended {
		return nil
	}
	s.ended = true
	defer s.cleanup()
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("batch stage for sink %s: writing its intermediate result: %w", s.table, err)
		}
	}
	var err error
	for attempt := 1; attempt <= s.policy.attempts; attempt++ {
		if attempt > 1 {
			fmt.Fprintf(s.notice, "[WARNING] Job %s: writing to sink %s failed (%v); restarting the sink stage from its materialized input (%d rows), attempt %d of %d.\n",
				s.jobID, s.table, err, s.n, attempt, s.policy.attempts)
			time.Sleep(s.policy.delay)
		}
		if err = s.replay(); err == nil {
			return nil
		}
	}
	return err
}

func (s *sinkStage) replay() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sink %s: internal error: %v", s.table, r)
		}
	}()
	out, err := s.sink.Open(context.Background())
	if err != nil {
		return fmt.Errorf("open sink %s: %w", s.table, err)
	}
	if s.file != nil {
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		rd := bufio.NewReaderSize(s.file, 256<<10)
		var batch changelog.Batch
		arena := make([]types.Value, 0, 1024*max(1, len(s.types)))
		buf := make([]byte, 0, 1024)
		flush := func() error {
			if len(batch.Rows) == 0 {
				return nil
			}
			err := out.Push(&batch)
			batch.Reset()
			arena = arena[:0]
			return s.named(err)
		}
		for i := int64(0); i < s.n; i++ {
			size, err := binary.ReadUvarint(rd)
			if err != nil {
				return fmt.Errorf("batch stage for sink %s: reading its intermediate result: %w", s.table, err)
			}
			buf = append(buf[:0], make([]byte, size)...)
			if _, err := io.ReadFull(rd, buf); err != nil {
				return fmt.Errorf("batch stage for sink %s: reading its intermediate result: %w", s.table, err)
			}
			if len(arena)+len(s.types) > cap(arena) {
				if err := flush(); err != nil {
					return err
				}
			}
			start := len(arena)
			arena, _, err = types.DecodeRowBinary(buf, s.types, arena)
			if err != nil {
				return fmt.Errorf("batch stage for sink %s: reading its intermediate result: %w", s.table, err)
			}
			batch.Append(changelog.Insert, arena[start:len(arena):len(arena)])
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return s.named(out.End())
}

// named names the sink in err, an error of its connector (sink_failure.go), as a streaming sink's are.
func (s *sinkStage) named(err error) error {
	if err == nil || isSinkError(err) {
		return err
	}
	return &sinkError{sink: s.table, err: err}
}

func (s *sinkStage) cleanup() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}
