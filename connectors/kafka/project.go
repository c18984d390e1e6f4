package kafka

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
)

var _ connectors.ProjectableSource = (*source)(nil)

// ApplyProjection passes the columns (and ROW members) the query reads on to the key and value formats that
// can skip the rest (formats.Projector: json, avro, avro-confluent, csv, debezium-json, debezium-avro-confluent).
func (s *source) ApplyProjection(p *formats.Projection) {
	s.proj = p
	c := s.cfg
	side := func(d *formats.Discovered, idx []int) {
		if d == nil {
			return
		}
		pr, ok := d.Decoder.(formats.Projector)
		if !ok {
			return
		}
		fp := &formats.Projection{Need: make([]bool, len(idx)), Sub: make([]*formats.Projection, len(idx))}
		for j, col := range idx {
			fp.Need[j] = p.Needs(col)
			fp.Sub[j] = p.Of(col)
		}
		pr.Project(fp)
	}
	side(c.key, c.keyIdx)
	side(c.value, c.valIdx)
}
