package nexmark

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// position is where generation stands: per generator the events it generated and its random state, and
// what makes a restored run continue the same timelines (the seed of the shared tables and the base times).
// The number of generators is len(splits).
type position struct {
	seed         int64
	baseTime     int64
	wallBaseTime int64 // wall-clock ms of the first event, for pacing; -1 until the first event
	splits       []splitPos
}

// splitPos is where one generator stands.
type splitPos struct {
	count int64 // events generated (the next event is number count+1, as upstream counts from 1)
	rng   uint64
}

func (p *position) clone() position {
	c := *p
	c.splits = append([]splitPos(nil), p.splits...)
	return c
}

// Position encodings: version 1 has one generator (count, rng, seed, base time, wall base time); version 2
// has seed, base time, wall base time, the number of generators and each one's count and rng.
const (
	positionV1 = 1
	positionV2 = 2
)

// maxGenerators bounds the generators a position may name (and 'num-event-generators').
const maxGenerators = 1 << 16

// SnapshotPosition encodes the position after the last pushed batches (or the start position before any).
func (s *source) SnapshotPosition() ([]byte, error) {
	s.mu.Lock()
	var p position
	if s.pos != nil {
		p = s.pos.clone()
	} else {
		p = s.startLocked(s.nsub)
	}
	s.mu.Unlock()
	b := []byte{positionV2}
	b = binary.AppendVarint(b, p.seed)
	b = binary.AppendVarint(b, p.baseTime)
	b = binary.AppendVarint(b, p.wallBaseTime)
	b = binary.AppendUvarint(b, uint64(len(p.splits)))
	for _, sp := range p.splits {
		b = binary.AppendVarint(b, sp.count)
		b = binary.BigEndian.AppendUint64(b, sp.rng)
	}
	return b, nil
}

var errPosition = errors.New("nexmark: the position in the checkpoint is not readable")

// RestorePosition makes the next run continue every generator after the events of the position, with the
// same random states and timelines, so that the restored run generates exactly the events the first run
// would have next, at any parallelism.
func (s *source) RestorePosition(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pos, s.restored = nil, nil
	if b == nil { // start afresh (a restart before the first checkpoint)
		return nil
	}
	p, err := decodePosition(b)
	if err != nil {
		return err
	}
	s.restored = &p
	return nil
}

func decodePosition(b []byte) (position, error) {
	var p position
	if len(b) == 0 || (b[0] != positionV1 && b[0] != positionV2) {
		return p, fmt.Errorf("%w (unknown version)", errPosition)
	}
	v := b[0]
	b = b[1:]
	var ok bool
	if v == positionV1 {
		var sp splitPos
		if sp.count, b, ok = varint(b); !ok || sp.count < 0 || len(b) < 8 {
			return p, errPosition
		}
		sp.rng, b = binary.BigEndian.Uint64(b), b[8:]
		p.splits = []splitPos{sp}
	}
	if p.seed, b, ok = varint(b); !ok {
		return p, errPosition
	}
	if p.baseTime, b, ok = varint(b); !ok {
		return p, errPosition
	}
	if p.wallBaseTime, b, ok = varint(b); !ok {
		return p, errPosition
	}
	if v == positionV2 {
		k, n := binary.Uvarint(b)
		if n <= 0 || k == 0 || k > maxGenerators {
			return p, errPosition
		}
		b = b[n:]
		p.splits = make([]splitPos, k)
		for j := range p.splits {
			sp := &p.splits[j]
			if sp.count, b, ok = varint(b); !ok || sp.count < 0 || len(b) < 8 {
				return p, errPosition
			}
			sp.rng, b = binary.BigEndian.Uint64(b), b[8:]
		}
	}
	if len(b) != 0 {
		return p, errPosition
	}
	return p, nil
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

// CheckpointComplete has nothing to publish.
func (s *source) CheckpointComplete(context.Context, []byte) error { return nil }
