package nexmark

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// Fixed word lists of PersonGenerator and BidGenerator.
var (
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	hotChannel = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// tables are what the Java generator builds once per JVM from its own unseeded random sources
// (StringsGenerator.REUSABLE_EXTRA_STRING, BidGenerator.HOT_URLS and CHANNEL_URL_CACHE), here from the seed,
// plus precomputed person names. They are read-only and shared.
type tables struct {
	extra      string // 1 MiB of letters: every 'extra' field is a substring of it
	hotURLs    [4]string
	channels   [channelsNumber]string
	urls       [channelsNumber]string
	names      [11 * 9]string // firstNames × lastNames
	creditCard [10000][4]byte // "%04d"
}

func newTables(seed int64) *tables {
	t := &tables{}
	// StringsGenerator.nextExactString without the reusable string: six letters per random int, 'a' + rnd%26
	// with Java's signed remainder (so negative ints give the characters below 'a' too, as upstream does).
	r := newSplitMix(seed ^ 0x5DEECE66D)
	b := make([]byte, reusableExtraLen)
	var rnd, n int32
	for i := range b {
		if n == 0 {
			rnd, n = r.nextInt32(), 6
		}
		b[i] = byte('a' + rnd%26)
		rnd /= 26
		n--
	}
	t.extra = string(b)
	// BidGenerator's static random: four hot urls, then a url per channel, 9 in 10 with a channel_id.
	r = newSplitMix(seed ^ 0x2545F4914F6CDD1D)
	for i := range t.hotURLs {
		t.hotURLs[i] = baseURL(&r)
	}
	for i := range t.urls {
		u := baseURL(&r)
		if r.nextInt(10) > 0 {
			rev := int32(reverseBits32(uint32(i)))
			if rev < 0 && rev != math.MinInt32 {
				rev = -rev
			}
			u += "&channel_id=" + strconv.Itoa(int(rev))
		}
		t.urls[i] = u
		t.channels[i] = "channel-" + strconv.Itoa(i)
	}
	for i, f := range firstNames {
		for j, l := range lastNames {
			t.names[i*len(lastNames)+j] = f + " " + l
		}
	}
	for i := range t.creditCard {
		t.creditCard[i] = [4]byte{byte('0' + i/1000), byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)}
	}
	return t
}

// reverseBits32 is Integer.reverse.
func reverseBits32(x uint32) uint32 {
	var y uint32
	for i := 0; i < 32; i++ {
		y = y<<1 | x&1
		x >>= 1
	}
	return y
}

// baseURL is BidGenerator.getBaseUrl.
func baseURL(r *splitMix) string {
	var b []byte
	b = append(b, "https://www.nexmark.com/"...)
	for i := 0; i < 3; i++ {
		b = appendRandomString(b, r, 5, '_')
		b = append(b, '/')
	}
	return string(append(b, "item.htm?query=1"...))
}

// appendRandomString is StringsGenerator.nextString(random, maxLength, special): 3 to maxLength-1
// characters, each special with probability 1/13, else a random lower-case letter; then trimmed of spaces.
func appendRandomString(b []byte, r *splitMix, maxLength int32, special byte) []byte {
	n := minStringLength + r.nextInt(maxLength-minStringLength)
	start := len(b)
	for ; n > 0; n-- {
		if r.nextInt(13) == 0 {
			b = append(b, special)
		} else {
			b = append(b, byte('a'+r.nextInt(26)))
		}
	}
	if special == ' ' { // String.trim
		s := b[start:]
		lo, hi := 0, len(s)
		for lo < hi && s[lo] == ' ' {
			lo++
		}
		for hi > lo && s[hi-1] == ' ' {
			hi--
		}
		if lo > 0 {
			copy(s, s[lo:hi])
		}
		b = b[:start+hi-lo]
	}
	return b
}

// generator produces the events of one timeline, as NexmarkGenerator, drawing every random choice from one
// splitMix in the Java generator's order.
type generator struct {
	cfg   *config
	tab   *tables
	rng   splitMix
	count int64           // events generated so far (eventsCountSoFar)
	proj  eventProjection // what of the events to build (generator_project.go); zero: everything

	arena []byte // generated strings of the current chunk (never written again once a string refers to it)

	// Slabs the nested ROW values are carved from, one per event type, so that a downstream operator that
	// keeps whole ROW values of one type (all auctions, say) pins only slabs of that type.
	persons, auctions, bids []types.Value
}

// slabEvents is the number of events of one type whose nested values share one allocation: fewer
// allocations for the garbage collector to track, at the cost of keeping up to a slab alive while any of its
// ROW values is referenced.
const slabEvents = 64

// take returns the next n values of a slab, starting a new slab when it is used up. Values handed out are
// never written again (ROW values are immutable once built).
func take(slab *[]types.Value, n int) []types.Value {
	if len(*slab) < n {
		*slab = make([]types.Value, n*slabEvents)
	}
	v := (*slab)[:n:n]
	*slab = (*slab)[n:]
	return v
}

// arenaChunk is the size of the byte chunks generated strings are carved from.
const arenaChunk = 16 << 10

// str returns the bytes appended to the arena since start as a string, without copying.
func (g *generator) str(start int) string {
	if len(g.arena) == start {
		return ""
	}
	return unsafe.String(&g.arena[start], len(g.arena)-start)
}

// reserve makes room for n more bytes in the arena, starting a new chunk when the current one is full
// (strings already handed out keep referring to the old chunk).
func (g *generator) reserve(n int) {
	if cap(g.arena)-len(g.arena) < n {
		g.arena = make([]byte, 0, max(arenaChunk, n))
	}
}

func (g *generator) hasNext() bool { return g.count < g.cfg.maxEvents }

// next generates the next event into row (4 values: event_type, person, auction, bid). The nested ROW value
// is never reused: rows handed downstream may be kept, and composite values are immutable.
func (g *generator) next(row []types.Value) {
	c := g.cfg
	num := c.adjustedEventNumber(g.count)
	ts := c.timestampForEvent(num)
	id := c.firstEventID + num
	rem := id % c.totalProportion
	row[1], row[2], row[3] = types.NullValue, types.NullValue, types.NullValue
	switch {
	case rem < c.PersonProportion:
		row[0] = types.IntValue(typePerson)
		if g.proj.drop[0] {
			g.nextPerson(id, ^members(0))
		} else {
			row[1] = types.RowValue(g.person(id, ts))
		}
	case rem < c.PersonProportion+c.AuctionProportion:
		row[0] = types.IntValue(typeAuction)
		if g.proj.drop[1] {
			g.nextAuction(id, ts, ^members(0))
		} else {
			row[2] = types.RowValue(g.auction(id, ts))
		}
	default:
		row[0] = types.IntValue(typeBid)
		if g.proj.drop[2] {
			g.nextBid(id, ^members(0))
		} else {
			row[3] = types.RowValue(g.bid(id, ts))
		}
	}
	g.count++
}

// personEvent, auctionEvent and bidEvent are the fields of one generated event.
type personEvent struct {
	id                                    int64
	name, email, card, city, state, extra string
}

type auctionEvent struct {
	id, initialBid, reserve, expires, seller, category int64
	name, desc, extra                                  string
}

type bidEvent struct {
	auction, bidder, price int64
	channel, url, extra    string
}

// person is PersonGenerator.nextPerson, as row values (the members g.proj skips NULL).
func (g *generator) person(id, ts int64) []types.Value {
	skip := g.proj.skip[0]
	p := g.nextPerson(id, skip)
	v := take(&g.persons, 8)
	v[0] = types.IntValue(p.id)
	v[1] = types.StringValue(p.name)
	v[2] = types.StringValue(p.email)
	v[3] = types.StringValue(p.card)
	v[4] = types.StringValue(p.city)
	v[5] = types.StringValue(p.state)
	v[6] = types.TimestampValue(ts, 0)
	v[7] = types.StringValue(p.extra)
	nullMembers(v, skip)
	return v
}

// nullMembers sets the members of v in skip NULL.
func nullMembers(v []types.Value, skip members) {
	for i := 0; skip != 0 && i < len(v); i++ {
		if skip.has(i) {
			v[i] = types.NullValue
		}
	}
}

// Members of the person, auction and bid ROWs whose strings the generator builds (the others are constants).
const (
	personEmail        = 2
	personCard         = 3
	personExtra        = 7
	auctionName        = 1
	auctionDescription = 2
	auctionExtra       = 9
	bidExtra           = 6
)

// nextPerson is PersonGenerator.nextPerson. The strings of the members in skip are not built (empty).
func (g *generator) nextPerson(id int64, skip members) personEvent {
	c, r := g.cfg, &g.rng
	pid := c.lastBase0PersonID(id) + firstPersonID
	first := r.nextInt(int32(len(firstNames)))
	last := r.nextInt(int32(len(lastNames)))
	name := g.tab.names[int(first)*len(lastNames)+int(last)]
	var email, card string
	emailLen := 0
	if skip.has(personEmail) {
		emailLen = skipRandomString(r, 7, ' ') + 1
		emailLen += skipRandomString(r, 5, ' ') + len(".com")
	} else {
		g.reserve(6 + 1 + 4 + 4)
		start := len(g.arena)
		g.arena = appendRandomString(g.arena, r, 7, ' ')
		g.arena = append(g.arena, '@')
		g.arena = appendRandomString(g.arena, r, 5, ' ')
		g.arena = append(g.arena, ".com"...)
		email = g.str(start)
		emailLen = len(email)
	}
	if skip.has(personCard) {
		for i := 0; i < 4; i++ {
			r.nextInt(10000)
		}
	} else {
		g.reserve(19)
		start := len(g.arena)
		for i := 0; i < 4; i++ {
			if i > 0 {
				g.arena = append(g.arena, ' ')
			}
			cc := &g.tab.creditCard[r.nextInt(10000)]
			g.arena = append(g.arena, cc[:]...)
		}
		card = g.str(start)
	}
	city := usCities[r.nextInt(int32(len(usCities)))]
	state := usStates[r.nextInt(int32(len(usStates)))]
	size := 8 + len(name) + emailLen + 19 + len(city) + len(state) // a card is 19 bytes
	return personEvent{id: pid, name: name, email: email, card: card, city: city, state: state,
		extra: g.extra(size, c.AvgPersonSize, !skip.has(personExtra))}
}

// nextBase0PersonID is PersonGenerator.nextBase0PersonId: one of the active people, or a few ids ahead.
func (g *generator) nextBase0PersonID(id int64) int64 {
	num := g.cfg.lastBase0PersonID(id) + 1
	active := min(num, g.cfg.NumActivePeople)
	return num - active + g.rng.nextLongBounded(active+personIDLead)
}

// nextBase0AuctionID is AuctionGenerator.nextBase0AuctionId: one of the auctions likely in flight, or a
// few ids ahead.
func (g *generator) nextBase0AuctionID(id int64) int64 {
	last := g.cfg.lastBase0AuctionID(id)
	lo := max(last-g.cfg.NumInFlightAuctions, 0)
	return lo + g.rng.nextLongBounded(last-lo+1+auctionIDLead)
}

// price is PriceGenerator.nextPrice: 10^(6u) × 100 rounded, so from 100 to 100,000,000 on a log scale.
func (g *generator) price() int64 { return priceOf(g.rng.nextDouble()) }

// priceOf is Math.round(Math.pow(10, u × 6) × 100). math.Pow is a fifth of the generator's time, so the
// value is computed with math.Exp, whose result is within a few units in the last place of Pow's (relative
// error below 1e-14, i.e. below 1e-6 at the largest price): rounding can only differ when the scaled value
// is that close to a half, and then Pow decides.
func priceOf(u float64) int64 {
	y := math.Exp(u*6*math.Ln10) * 100
	if f := y - math.Floor(y); math.Abs(f-0.5) < 1e-5 {
		y = math.Pow(10, u*6) * 100
	}
	return int64(math.Floor(y + 0.5)) // Math.round
}

// auction is AuctionGenerator.nextAuction, as row values (the members g.proj skips NULL).
func (g *generator) auction(id, ts int64) []types.Value {
	skip := g.proj.skip[1]
	a := g.nextAuction(id, ts, skip)
	v := take(&g.auctions, 10)
	v[0] = types.IntValue(a.id)
	v[1] = types.StringValue(a.name)
	v[2] = types.StringValue(a.desc)
	v[3] = types.IntValue(a.initialBid)
	v[4] = types.IntValue(a.reserve)
	v[5] = types.TimestampValue(ts, 0)
	v[6] = types.TimestampValue(a.expires, 0)
	v[7] = types.IntValue(a.seller)
	v[8] = types.IntValue(a.category)
	v[9] = types.StringValue(a.extra)
	nullMembers(v, skip)
	return v
}

// nextAuction is AuctionGenerator.nextAuction. The strings of the members in skip are not built (empty).
func (g *generator) nextAuction(id, ts int64, skip members) auctionEvent {
	c, r := g.cfg, &g.rng
	aid := c.lastBase0AuctionID(id) + firstAuctionID
	var seller int64
	if r.nextInt(int32(c.HotSellersRatio)) > 0 {
		seller = c.lastBase0PersonID(id) / hotSellerRatio * hotSellerRatio
	} else {
		seller = g.nextBase0PersonID(id)
	}
	category := int64(firstCategoryID + r.nextInt(numCategories))
	initialBid := g.price()
	// AuctionGenerator.nextAuctionLengthMs: on average the time until num-in-flight-auctions more auctions
	// have been generated.
	cur := c.adjustedEventNumber(g.count)
	ahead := c.NumInFlightAuctions * c.totalProportion / c.AuctionProportion
	horizon := c.timestampForEvent(cur+ahead) - ts
	expires := ts + 1 + r.nextLongBounded(max(horizon*2, 1))
	var name, desc string
	nameLen, descLen := 0, 0
	if skip.has(auctionName) {
		nameLen = skipRandomString(r, 20, ' ')
	} else {
		g.reserve(19)
		start := len(g.arena)
		g.arena = appendRandomString(g.arena, r, 20, ' ')
		name = g.str(start)
		nameLen = len(name)
	}
	if skip.has(auctionDescription) {
		descLen = skipRandomString(r, 100, ' ')
	} else {
		g.reserve(99)
		start := len(g.arena)
		g.arena = appendRandomString(g.arena, r, 100, ' ')
		desc = g.str(start)
		descLen = len(desc)
	}
	reserve := initialBid + g.price()
	size := 8 + nameLen + descLen + 8 + 8 + 8 + 8 + 8
	return auctionEvent{id: aid, name: name, desc: desc, initialBid: initialBid, reserve: reserve, expires: expires,
		seller: seller + firstPersonID, category: category, extra: g.extra(size, c.AvgAuctionSize, !skip.has(auctionExtra))}
}

// bid is BidGenerator.nextBid, as row values (the members g.proj skips NULL).
func (g *generator) bid(id, ts int64) []types.Value {
	skip := g.proj.skip[2]
	b := g.nextBid(id, skip)
	v := take(&g.bids, 7)
	v[0] = types.IntValue(b.auction)
	v[1] = types.IntValue(b.bidder)
	v[2] = types.IntValue(b.price)
	v[3] = types.StringValue(b.channel)
	v[4] = types.StringValue(b.url)
	v[5] = types.TimestampValue(ts, 0)
	v[6] = types.StringValue(b.extra)
	nullMembers(v, skip)
	return v
}

// nextBid is BidGenerator.nextBid. As upstream, the bidder id is offset by FIRST_PERSON_ID twice.
// The members in skip may be left empty.
func (g *generator) nextBid(id int64, skip members) bidEvent {
	c, r := g.cfg, &g.rng
	var auction int64
	if r.nextInt(int32(c.HotAuctionRatio)) > 0 {
		auction = c.lastBase0AuctionID(id) / hotAuctionRatio * hotAuctionRatio
	} else {
		auction = g.nextBase0AuctionID(id)
	}
	var bidder int64
	if r.nextInt(int32(c.HotBiddersRatio)) > 0 {
		bidder = c.lastBase0PersonID(id)/hotBidderRatio*hotBidderRatio + 1
	} else {
		bidder = g.nextBase0PersonID(id)
	}
	price := g.price()
	var channel, url string
	if r.nextInt(hotChannelsRatio) > 0 {
		i := r.nextInt(int32(len(hotChannel)))
		channel, url = hotChannel[i], g.tab.hotURLs[i]
	} else {
		i := r.nextInt(channelsNumber)
		channel, url = g.tab.channels[i], g.tab.urls[i]
	}
	return bidEvent{auction: auction + firstAuctionID, bidder: bidder + 2*firstPersonID, price: price, channel: channel,
		url: url, extra: g.extra(8+8+8+8, c.AvgBidSize, !skip.has(bidExtra))}
}

// extra is StringsGenerator.nextExtra: a string such that size plus its length is avg on average (±20 %),
// a substring of the shared reusable string. Unless build, a string that would be made afresh is not (empty).
func (g *generator) extra(size int, avg int64, build bool) string {
	if int64(size) > avg {
		return ""
	}
	want := avg - int64(size)
	delta := int64(math.Floor(float64(want)*0.2 + 0.5)) // Math.round
	n := want - delta
	if delta != 0 {
		n += int64(g.rng.nextInt(int32(2 * delta)))
	}
	if n >= reusableExtraLen/2 {
		if !build {
			g.skipExactString(int(n))
			return ""
		}
		return g.exactString(int(n))
	}
	off := int64(g.rng.nextInt(int32(reusableExtraLen - n)))
	return g.tab.extra[off : off+n]
}

// exactString is StringsGenerator.nextExactString for lengths the reusable string cannot serve.
func (g *generator) exactString(n int) string {
	b := make([]byte, n)
	var rnd, k int32
	for i := range b {
		if k == 0 {
			rnd, k = g.rng.nextInt32(), 6
		}
		b[i] = byte('a' + rnd%26)
		rnd /= 26
		k--
	}
	return string(b)
}
