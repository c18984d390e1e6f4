package datagen

import (
	"fmt"

	"github.com/sluicesql/sluice/connectors"
)

var _ connectors.SubtaskRestarter = (*source)(nil)

// RestartSubtask sets the ranges that subtask i of n owns back to their start (the restored position's,
// else the beginning): its next run generates the same rows again, with the same random states.
func (s *source) RestartSubtask(i, n int) error {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("datagen: subtask %d of %d does not exist", i, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == nil {
		return nil
	}
	start := s.startLocked(s.nsub)
	for j := i; j < len(s.pos.ranges) && j < len(start.ranges); j += n {
		s.pos.ranges[j] = start.ranges[j]
	}
	return nil
}
