package nexmark

import (
	"math"
)

// The generator follows the Nexmark benchmark's Java generator (github.com/nexmark/nexmark, module
// nexmark-flink, Apache-2.0): NexmarkConfiguration and GeneratorConfig (ids, timestamps, rate shape),
// NexmarkGenerator (event id → type), PersonGenerator, AuctionGenerator, BidGenerator, PriceGenerator,
// StringsGenerator and LongGenerator (the fields), NexmarkUtils.RateShape (the rate curve), and
// NexmarkSourceOptions / NexmarkTableSourceFactory (the options and the split: first event id 1, first event
// number 1, one generator). The code here is written from their documented logic, not copied.

// Id spacing, as GeneratorConfig: ids start at these values so that queries find matches even in small runs.
const (
	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
)

// Constants of the model generators.
const (
	numCategories    = 5   // AuctionGenerator.NUM_CATEGORIES
	auctionIDLead    = 10  // AuctionGenerator.AUCTION_ID_LEAD
	personIDLead     = 10  // PersonGenerator.PERSON_ID_LEAD
	hotSellerRatio   = 100 // AuctionGenerator.HOT_SELLER_RATIO: a hot seller is the first of each 100 people
	hotAuctionRatio  = 100 // BidGenerator.HOT_AUCTION_RATIO
	hotBidderRatio   = 100 // BidGenerator.HOT_BIDDER_RATIO
	hotChannelsRatio = 2   // BidGenerator.HOT_CHANNELS_RATIO
	channelsNumber   = 10000
	minStringLength  = 3           // StringsGenerator.MIN_STRING_LENGTH
	reusableExtraLen = 1024 * 1024 // StringsGenerator.REUSABLE_EXTRA_STRING
	sineSteps        = 10          // RateShape.N
	usPerSecond      = int64(1e6)  // RateUnit.PER_SECOND
)

// Event types, the values of column event_type (Event.Type).
const (
	typePerson  = 0
	typeAuction = 1
	typeBid     = 2
)

// settings are the generator's settings, as NexmarkConfiguration (after the table options are applied).
type settings struct {
	NumEvents           int64 // 0: unbounded
	StopAt              int64 // -1: none
	RateShape           string
	RatePeriodSec       int64
	FirstEventRate      int64
	NextEventRate       int64
	PersonProportion    int64
	AuctionProportion   int64
	BidProportion       int64
	AvgPersonSize       int64
	AvgAuctionSize      int64
	AvgBidSize          int64
	HotAuctionRatio     int64
	HotBiddersRatio     int64
	HotSellersRatio     int64
	NumActivePeople     int64
	NumInFlightAuctions int64
	OutOfOrderGroupSize int64
}

// defaultSettings are NexmarkConfiguration's defaults.
func defaultSettings() settings {
	return settings{
		StopAt: -1, RateShape: "SQUARE", RatePeriodSec: 600, FirstEventRate: 10000, NextEventRate: 10000,
		PersonProportion: 1, AuctionProportion: 3, BidProportion: 46,
		AvgPersonSize: 200, AvgAuctionSize: 500, AvgBidSize: 100,
		HotAuctionRatio: 2, HotBiddersRatio: 4, HotSellersRatio: 4,
		NumActivePeople: 1000, NumInFlightAuctions: 100, OutOfOrderGroupSize: 1,
	}
}

// config is GeneratorConfig for one generator (one split of the source; see newSplitConfig): proportions,
// ids, the limit and the event timeline.
type config struct {
	settings
	totalProportion int64
	baseTime        int64 // event time of event number 0, ms since the epoch
	firstEventID    int64
	firstEventNum   int64
	maxEvents       int64 // events to generate (after stop-at)

	// The timeline: one inter-event delay (constant rate), or several, each held for stepLengthSec and
	// cycling (a rate shape between first-event.rate and next-event.rate).
	delayUs        float64
	delaysUs       []int64
	stepLengthSec  int64
	eventsPerEpoch int64
	epochPeriodMs  int64
}

// rateToPeriodUs is RateUnit.PER_SECOND.rateToPeriodUs: the delay between events in µs, rounded.
func rateToPeriodUs(rate int64) int64 { return (usPerSecond + rate/2) / rate }

func newConfig(s settings, baseTime int64) *config { return newSplitConfig(s, baseTime, 0, 1) }

// newSplitConfig is the config of generator j of n, as GeneratorConfig.split(n).get(j) of the benchmark's
// Flink connector (NexmarkSource.getSplits, with numEventGenerators = n): the event ids are cut into n
// contiguous ranges of events.num / n (the last one takes the remainder), generator j starting after the
// ranges before it; stop-at is cut the same way. Every generator runs a timeline of its own from the same
// base time and first event number, its events n times further apart, so that the n generators together
// keep the configured rate.
func newSplitConfig(s settings, baseTime int64, j, n int) *config {
	c := &config{settings: s, baseTime: baseTime, firstEventID: 1, firstEventNum: 1}
	c.totalProportion = s.PersonProportion + s.AuctionProportion + s.BidProportion
	total := s.NumEvents
	if total == 0 {
		// As GeneratorConfig: "as many as possible without overflowing internal counters".
		total = math.MaxInt64 / (c.totalProportion * max(s.AvgPersonSize, s.AvgAuctionSize, s.AvgBidSize))
	}
	c.maxEvents = splitShare(total, j, n)
	c.firstEventID += int64(j) * (total / int64(n))
	if s.StopAt >= 0 {
		c.maxEvents = min(c.maxEvents, splitShare(s.StopAt, j, n))
	}
	// GeneratorConfig (nexmark-flink) times every event by first-event.rate: 1e6 / rate µs apart, times the
	// number of generators. When next-event.rate differs, the rate follows rate.shape over rate.period as the
	// Beam Nexmark generator that it derives from does (see delays).
	c.delayUs = 1e6 / float64(s.FirstEventRate) * float64(n)
	if s.FirstEventRate != s.NextEventRate {
		c.delaysUs = shapeDelays(s.RateShape, s.FirstEventRate, s.NextEventRate)
		for i := range c.delaysUs {
			c.delaysUs[i] *= int64(n)
		}
		n := int64(2)
		if s.RateShape == "SINE" {
			n = sineSteps
		}
		c.stepLengthSec = (s.RatePeriodSec + n - 1) / n
		for _, d := range c.delaysUs {
			k := c.stepLengthSec * usPerSecond / d
			c.eventsPerEpoch += k
			c.epochPeriodMs += k * d / 1000
		}
	}
	return c
}

// splitShare is generator j's share of total events among n: total / n, the last one the remainder.
func splitShare(total int64, j, n int) int64 {
	if j == n-1 {
		return total - total/int64(n)*int64(n-1)
	}
	return total / int64(n)
}

// shapeDelays is RateShape.interEventDelayUs(first, next): SQUARE alternates the two rates, SINE steps
// through ten rates on a cosine between them.
func shapeDelays(shape string, first, next int64) []int64 {
	if shape != "SINE" {
		return []int64{rateToPeriodUs(first), rateToPeriodUs(next)}
	}
	mid := float64(first+next) / 2
	amp := float64(first-next) / 2
	out := make([]int64, sineSteps)
	for i := range out {
		r := 2 * math.Pi * float64(i) / sineSteps
		out[i] = rateToPeriodUs(int64(math.Round(mid + amp*math.Cos(r))))
	}
	return out
}

// timestampForEvent is GeneratorConfig.timestampForEvent: the event time of event number n.
func (c *config) timestampForEvent(n int64) int64 {
	if c.delaysUs == nil {
		return c.baseTime + int64(float64(n)*c.delayUs)/1000
	}
	epoch := n / c.eventsPerEpoch
	n %= c.eventsPerEpoch
	var offsetMs int64
	for _, d := range c.delaysUs {
		k := c.stepLengthSec * usPerSecond / d
		if n < k {
			us := offsetMs*1000 + epoch*c.epochPeriodMs*1000 + n*d
			return c.baseTime + us/1000
		}
		n -= k
		offsetMs += k * d / 1000
	}
	return c.baseTime + epoch*c.epochPeriodMs + offsetMs // not reached: n < eventsPerEpoch
}

// adjustedEventNumber is GeneratorConfig.nextAdjustedEventNumber: the event number of the count-th event,
// permuted within groups of out-of-order-group-size events.
func (c *config) adjustedEventNumber(count int64) int64 {
	n := c.OutOfOrderGroupSize
	num := c.firstEventNum + count
	return num/n*n + num*953%n
}

// lastBase0PersonID is PersonGenerator.lastBase0PersonId: the last person id (from 0) generated at or
// before event id.
func (c *config) lastBase0PersonID(id int64) int64 {
	epoch, off := id/c.totalProportion, id%c.totalProportion
	if off >= c.PersonProportion {
		off = c.PersonProportion - 1
	}
	return epoch*c.PersonProportion + off
}

// lastBase0AuctionID is AuctionGenerator.lastBase0AuctionId.
func (c *config) lastBase0AuctionID(id int64) int64 {
	epoch, off := id/c.totalProportion, id%c.totalProportion
	switch {
	case off < c.PersonProportion:
		epoch--
		off = c.AuctionProportion - 1
	case off >= c.PersonProportion+c.AuctionProportion:
		off = c.AuctionProportion - 1
	default:
		off -= c.PersonProportion
	}
	return epoch*c.AuctionProportion + off
}
