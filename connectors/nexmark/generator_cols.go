package nexmark

import (
	"github.com/sluicesql/sluice/vec"
)

// eventCols is a columnar batch of events (vec): event_type and one ROW column per event type, NULL for the
// other types, with the same values the row form has.
type eventCols struct {
	b                           vec.Batch
	etype, person, auction, bid *vec.Col
}

func newEventCols() *eventCols {
	sch := Schema()
	e := &eventCols{}
	for _, c := range sch {
		e.b.Cols = append(e.b.Cols, vec.ColFor(c.Type))
	}
	e.etype, e.person, e.auction, e.bid = e.b.Cols[0], e.b.Cols[1], e.b.Cols[2], e.b.Cols[3]
	return e
}

// reset empties the batch for up to n events; string arenas start afresh (rows made from the previous
// batch may still refer to them).
func (e *eventCols) reset(n int) {
	e.b.N, e.b.Sel, e.b.Kinds = 0, nil, nil
	for _, c := range e.b.Cols {
		c.Reset(n)
	}
}

// finish pads the ROW columns with NULLs up to the batch's rows (nextCols appends only the event's own ROW).
func (e *eventCols) finish() {
	e.person.PadNulls(e.b.N)
	e.auction.PadNulls(e.b.N)
	e.bid.PadNulls(e.b.N)
}

// nextCols generates the next event into row e.b.N of the columns, drawing the same random numbers as next;
// finish completes the batch.
func (g *generator) nextCols(e *eventCols) {
	c := g.cfg
	row := e.b.N
	num := c.adjustedEventNumber(g.count)
	ts := c.timestampForEvent(num)
	id := c.firstEventID + num
	rem := id % c.totalProportion
	switch {
	case rem < c.PersonProportion:
		e.etype.I64 = append(e.etype.I64, typePerson)
		e.person.PadNulls(row)
		p := g.nextPerson(id)
		f := e.person.Fields
		f[0].I64 = append(f[0].I64, p.id)
		f[1].AppendString(p.name)
		f[2].AppendString(p.email)
		f[3].AppendString(p.card)
		f[4].AppendString(p.city)
		f[5].AppendString(p.state)
		f[6].AppendTimestamp(ts, 0)
		f[7].AppendString(p.extra)
	case rem < c.PersonProportion+c.AuctionProportion:
		e.etype.I64 = append(e.etype.I64, typeAuction)
		e.auction.PadNulls(row)
		a := g.nextAuction(id, ts)
		f := e.auction.Fields
		f[0].I64 = append(f[0].I64, a.id)
		f[1].AppendString(a.name)
		f[2].AppendString(a.desc)
		f[3].I64 = append(f[3].I64, a.initialBid)
		f[4].I64 = append(f[4].I64, a.reserve)
		f[5].AppendTimestamp(ts, 0)
		f[6].AppendTimestamp(a.expires, 0)
		f[7].I64 = append(f[7].I64, a.seller)
		f[8].I64 = append(f[8].I64, a.category)
		f[9].AppendString(a.extra)
	default:
		e.etype.I64 = append(e.etype.I64, typeBid)
		e.bid.PadNulls(row)
		b := g.nextBid(id)
		f := e.bid.Fields
		f[0].I64 = append(f[0].I64, b.auction)
		f[1].I64 = append(f[1].I64, b.bidder)
		f[2].I64 = append(f[2].I64, b.price)
		f[3].AppendString(b.channel)
		f[4].AppendString(b.url)
		f[5].AppendTimestamp(ts, 0)
		f[6].AppendString(b.extra)
	}
	e.b.N++
	g.count++
}
