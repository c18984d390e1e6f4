package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// restartPolicy is Flink's fixed-delay restart strategy, applied in batch mode to the sink stage.
type restartPolicy struct {
	attempts int
	delay    time.Duration
}

// batchRestartPolicy reads 'restart-strategy' ('fixed-delay' default in batch, or 'none'),
// 'restart-strategy.fixed-delay.attempts' (3) and 'restart-strategy.fixed-delay.delay' (1 s).
func (s *Session) batchRestartPolicy() (restartPolicy, error) {
	p := restartPolicy{attempts: 3, delay: time.Second}
	v, ok := s.opts["restart-strategy.type"]
	if !ok {
		v = s.opts["restart-strategy"]
	}
	switch strings.ToLower(v) {
	case "", "fixed-delay", "fixeddelay", "fixed_delay":
	case "exponential-delay", "exponentialdelay", "failure-rate", "failurerate":
		// Streaming jobs follow these strategies (restart.go); the batch sink stage retries with the
		// fixed-delay attempts and delay.
	case "none", "off", "disable":
		p.attempts = 1
		return p, nil
	default:
		return p, fmt.Errorf("%w: Invalid value for option 'restart-strategy': '%s' (want fixed-delay, exponential-delay, failure-rate or none)", ErrValidation, v)
	}
	if v, ok := s.opts["restart-strategy.fixed-delay.attempts"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, fmt.Errorf("%w: Invalid value for option 'restart-strategy.fixed-delay.attempts': '%s' is not a non-negative integer", ErrValidation, v)
		}
		p.attempts = n + 1 // the first run plus n restarts
	}
	if v, ok := s.opts["restart-strategy.fixed-delay.delay"]; ok {
		d, err := options.ParseDuration(v)
		if err != nil {
			return p, fmt.Errorf("%w: Invalid value for option 'restart-strategy.fixed-delay.delay': %v", ErrValidation, err)
		}
		p.delay = d
	}
	return p, nil
}

// sinkStage is the last stage of a batch job: it materializes its input (the final rows) in a spill file,
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
			return err
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
	return out.End()
}

func (s *sinkStage) cleanup() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}
