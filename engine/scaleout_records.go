package engine

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// The records of a scale-out member (scaleout_run.go): stage 1 decodes its source records into rows and
// checks that the internal topics' records were written by the same plan; stage 2 aggregates repartitioned ones.

// loaded reports whether the stage-2 state of repartition partition p is loaded.
func (m *member) loaded(p int32) bool {
	if m.win != nil {
		return m.win.parts[p] != nil
	}
	return m.parts[p] != nil || m.jparts[p] != nil || m.rparts[p] != nil
}

// aggregate decodes repartition records and pushes them into the partition's aggregate.
func (m *member) aggregate(p *aggPart, recs []*kgo.Record) error {
	m.startBatch(len(recs))
	for i, rec := range recs {
		if err := m.checkRecord(rec); err != nil {
			return err
		}
		if _, ok := p.dirty[string(rec.Key)]; !ok {
			p.markDirty(string(rec.Key)) // the record key is the group key (repartitioner)
		}
		if err := m.appendRow(i, rec); err != nil {
			return err
		}
	}
	return p.agg.Push(&m.batch)
}

// startBatch empties the member's batch and makes its arena hold the rows of n repartition records.
func (m *member) startBatch(n int) {
	if need := n * len(m.inTypes); cap(m.arena) < need {
		m.arena = make([]types.Value, need)
	}
	m.batch.Reset()
}

// checkRecord refuses a repartition record of another plan, or an empty one.
func (m *member) checkRecord(rec *kgo.Record) error {
	if err := m.checkPlan(rec); err != nil {
		return err
	}
	if len(rec.Value) < 1 {
		return fmt.Errorf("repartition topic '%s' partition %d offset %d: empty record", rec.Topic, rec.Partition, rec.Offset)
	}
	return nil
}

// appendRow decodes the row of repartition record rec, the i-th of those startBatch was given, into the
// arena and appends it to the batch with the record's kind.
func (m *member) appendRow(i int, rec *kgo.Record) error {
	w := len(m.inTypes)
	row := m.arena[i*w : (i+1)*w : (i+1)*w]
	if _, _, err := types.DecodeRowBinary(rec.Value[1:], m.inTypes, row[:0]); err != nil {
		return fmt.Errorf("repartition topic '%s' partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	m.batch.Append(changelog.Kind(rec.Value[0]), row)
	return nil
}

// checkPlan refuses an internal record written by another plan.
func (m *member) checkPlan(rec *kgo.Record) error {
	for _, h := range rec.Headers {
		if h.Key == planHeader {
			if string(h.Value) != m.plan.fp {
				return &fatalError{fmt.Errorf("topic '%s' partition %d offset %d was written by plan %s, this process runs plan %s: the job '%s' was started with another INSERT. Give this INSERT another 'pipeline.name', or delete the job's internal topics and consumer group to start it anew",
					rec.Topic, rec.Partition, rec.Offset, h.Value, m.plan.fp, m.s.name)}
			}
			return nil
		}
	}
	return &fatalError{fmt.Errorf("topic '%s' partition %d offset %d has no '%s' header: it was not written by a Sluice scale-out job", rec.Topic, rec.Partition, rec.Offset, planHeader)}
}
