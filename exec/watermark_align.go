package exec

import (
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
)

// Watermark alignment (Flink's FLIP-182/FLIP-217, per split): the split watermark trackers of the sources in
// one alignment group share an AlignGroup. The group's watermark is the lowest current watermark of its
// members (each member's own being the minimum over its counted splits); a split whose watermark is more
// than the maximum drift ahead of it is blocked, and its source pauses reading it until the group catches
// up. A member without counted splits (all idle or finished) does not hold the group back.

// AlignGroup is one alignment group of a job.
type AlignGroup struct {
	mu      sync.Mutex
	members []*SplitWatermarks
}

// NewAlignGroup returns an empty group.
func NewAlignGroup() *AlignGroup { return &AlignGroup{} }

// Join adds the per-split tracker s to the group with the given maximum drift.
func (g *AlignGroup) Join(s *SplitWatermarks, maxDrift time.Duration) {
	s.mu.Lock()
	s.group, s.drift = g, maxDrift.Milliseconds()
	s.mu.Unlock()
	g.mu.Lock()
	g.members = append(g.members, s)
	g.mu.Unlock()
}

// watermark is the lowest current watermark of the members that count, and whether any does.
func (g *AlignGroup) watermark() (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	low, any := int64(0), false
	for _, m := range g.members {
		m.mu.Lock()
		cur, counted := m.current, m.counted
		m.mu.Unlock()
		if !counted {
			continue
		}
		if !any || cur < low {
			low = cur
		}
		any = true
	}
	return low, any
}

// Blocked appends the splits whose watermark runs more than the drift ahead of the group (SplitAligner).
func (s *SplitWatermarks) Blocked(dst []int) []int {
	s.mu.Lock()
	g := s.group
	s.mu.Unlock()
	if g == nil {
		return dst
	}
	low, ok := g.watermark()
	if !ok {
		// Every member is idle or finished: nothing holds the group back.
		return dst
	}
	// A split that has no watermark yet holds the group at its minimum, so the others are blocked until it
	// has rows (or goes idle), as in Flink.
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := low + s.drift // low is at least minWatermark, drift positive: no overflow below MaxWatermark
	if limit < low {
		limit = changelog.MaxWatermark
	}
	for id, sp := range s.splits {
		if sp.present && !sp.finished && sp.wm > limit {
			dst = append(dst, id)
		}
	}
	return dst
}
