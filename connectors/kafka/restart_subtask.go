package kafka

import (
	"fmt"

	"github.com/sluicesql/sluice/connectors"
)

var _ connectors.SubtaskRestarter = (*source)(nil)

// RestartSubtask forgets the offsets that subtask i of n reached in the partitions it owns: its next run
// starts them again from the restored position, else from 'scan.startup.mode'. The stop offsets are resolved
// again ('scan.bounded.mode' = 'latest-offset' includes records written since the first run).
func (s *source) RestartSubtask(i, n int) error {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("kafka table '%s': subtask %d of %d does not exist", s.cfg.table.Name, i, n)
	}
	p := &s.positions
	p.mu.Lock()
	defer p.mu.Unlock()
	for tp := range p.pos {
		if splitOwner(tp.topic, tp.partition, n) == i {
			delete(p.pos, tp)
		}
	}
	return nil
}
