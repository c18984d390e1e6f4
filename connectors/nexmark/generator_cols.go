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
// finish completes the batch. What g.proj does not build is NULL (a dropped ROW column is padded by finish).
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
		if g.proj.drop[0] {
			g.nextPerson(id, ^members(0))
			break
		}
		e.person.PadNulls(row)
		skip := g.proj.skip[0]
		p := g.nextPerson(id, skip)
		f := e.person.Fields
		appendInt(f[0], row, p.id, skip.has(0))
		appendString(f[1], row, p.name, skip.has(1))
		appendString(f[2], row, p.email, skip.has(2))
		appendString(f[3], row, p.card, skip.has(3))
		appendString(f[4], row, p.city, skip.has(4))
		appendString(f[5], row, p.state, skip.has(5))
		appendTimestamp(f[6], row, ts, skip.has(6))
		appendString(f[7], row, p.extra, skip.has(7))
	case rem < c.PersonProportion+c.AuctionProportion:
		e.etype.I64 = append(e.etype.I64, typeAuction)
		if g.proj.drop[1] {
			g.nextAuction(id, ts, ^members(0))
			break
		}
		e.auction.PadNulls(row)
		skip := g.proj.skip[1]
		a := g.nextAuction(id, ts, skip)
		f := e.auction.Fields
		appendInt(f[0], row, a.id, skip.has(0))
		appendString(f[1], row, a.name, skip.has(1))
		appendString(f[2], row, a.desc, skip.has(2))
		appendInt(f[3], row, a.initialBid, skip.has(3))
		appendInt(f[4], row, a.reserve, skip.has(4))
		appendTimestamp(f[5], row, ts, skip.has(5))
		appendTimestamp(f[6], row, a.expires, skip.has(6))
		appendInt(f[7], row, a.seller, skip.has(7))
		appendInt(f[8], row, a.category, skip.has(8))
		appendString(f[9], row, a.extra, skip.has(9))
	default:
		e.etype.I64 = append(e.etype.I64, typeBid)
		if g.proj.drop[2] {
			g.nextBid(id, ^members(0))
			break
		}
		e.bid.PadNulls(row)
		skip := g.proj.skip[2]
		b := g.nextBid(id, skip)
		f := e.bid.Fields
		appendInt(f[0], row, b.auction, skip.has(0))
		appendInt(f[1], row, b.bidder, skip.has(1))
		appendInt(f[2], row, b.price, skip.has(2))
		appendString(f[3], row, b.channel, skip.has(3))
		appendString(f[4], row, b.url, skip.has(4))
		appendTimestamp(f[5], row, ts, skip.has(5))
		appendString(f[6], row, b.extra, skip.has(6))
	}
	e.b.N++
	g.count++
}

// recycleArena lets the next batch's strings reuse the arena chunk: nextCols copies every generated string
// into the columns, so that, in columns, no string refers to the arena once its batch is built.
func (g *generator) recycleArena() { g.arena = g.arena[:0] }

// appendInt, appendString and appendTimestamp append a member's value at row, or NULL when null.
func appendInt(c *vec.Col, row int, v int64, null bool) {
	if null {
		c.AppendNull(row)
		return
	}
	c.I64 = append(c.I64, v)
}

func appendString(c *vec.Col, row int, s string, null bool) {
	if null {
		c.AppendNull(row)
		return
	}
	c.AppendString(s)
}

func appendTimestamp(c *vec.Col, row int, millis int64, null bool) {
	if null {
		c.AppendNull(row)
		return
	}
	c.AppendTimestamp(millis, 0)
}
