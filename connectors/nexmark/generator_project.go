package nexmark

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
)

// Projection pushdown (connectors.ProjectableSource). A query that reads some of the columns (event_type,
// person, auction, bid) or some members of a ROW column gets the others NULL, and the generator does not
// build them: no ROW value for an unread column, no email, credit card, item name or description string for
// an unread member, no copy of an unread string into a column batch. It still draws every random number the
// full generator draws, in the same order (string lengths too, which decide how long 'extra' is), so the
// events' read fields are the same for a seed whatever the projection.

var _ connectors.ProjectableSource = (*source)(nil)

// members is a set of the members of an event type's ROW (bit i: member i).
type members uint16

func (m members) has(i int) bool { return m&(1<<i) != 0 }

// eventProjection is what a generator builds of each event type's ROW: drop, the column is not read (NULL);
// else skip, the members not read (NULL). The zero value builds everything.
type eventProjection struct {
	drop [3]bool // person, auction, bid
	skip [3]members
}

// Columns of the table (Schema) the ROW event columns are at.
const (
	colPerson  = 1
	colAuction = 2
	colBid     = 3
)

// ApplyProjection records what the query reads; RunSubtask's generators build only that.
func (s *source) ApplyProjection(p *formats.Projection) {
	var ep eventProjection
	for k, c := range []int{colPerson, colAuction, colBid} {
		if !p.Needs(c) {
			ep.drop[k] = true
			continue
		}
		sub := p.Of(c)
		if sub == nil {
			continue
		}
		for i := range sub.Need {
			if !sub.Needs(i) {
				ep.skip[k] |= 1 << i
			}
		}
	}
	s.proj = ep
}

// skipRandomString draws what appendRandomString draws and returns the length of the string it would
// append (trimmed of spaces when special is ' '), without building it.
func skipRandomString(r *splitMix, maxLength int32, special byte) int {
	n := int(minStringLength + r.nextInt(maxLength-minStringLength))
	first, last := -1, -1
	for i := 0; i < n; i++ {
		if r.nextInt(13) == 0 {
			if special != ' ' {
				last = i
				if first < 0 {
					first = i
				}
			}
			continue
		}
		r.nextInt(26)
		last = i
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}

// skipExactString draws what exactString(n) draws.
func (g *generator) skipExactString(n int) {
	for i := 0; i < n; i += 6 {
		g.rng.nextInt32()
	}
}
