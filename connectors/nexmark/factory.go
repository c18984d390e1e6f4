// Package nexmark is the 'nexmark' connector: a bounded or unbounded source of the Nexmark benchmark's
// events (people, auctions and bids), generated as the benchmark's own Flink connector does
// (github.com/nexmark/nexmark, nexmark-flink), with the same options and table schema, so that the
// benchmark's queries run as written. See docs/NEXMARK.md.
//
// It owns event generation only; it does not plan or run queries (cmd/sluice's 'bench nexmark' does).
package nexmark

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Options of the benchmark's connector (NexmarkSourceOptions), with its defaults.
var (
	RateShape = options.Enum("rate.shape", "SQUARE", "SINE").Default("SQUARE").
			Desc("Shape of the event rate between first-event.rate and next-event.rate over rate.period: SQUARE alternates them, SINE follows a cosine in ten steps.")
	RatePeriod = options.Duration("rate.period").Default(600 * time.Second).
			Desc("Period of the rate shape (whole seconds).")
	RateLimited = options.Bool("rate.limited").Default(false).
			Desc("Emit each event when it is due by its event time (as max-emit-speed = false).")
	FirstEventRate = options.Int("first-event.rate").Default(10000).
			Desc("Events per second of event time at the start: events are 1/rate seconds apart.")
	NextEventRate = options.Int("next-event.rate").Default(10000).
			Desc("Events per second of event time in the shape's other phase; equal to first-event.rate for a constant rate.")
	PersonAvgSize = options.Memory("person.avg-size").Default(200).
			Desc("Average size of a person event; the 'extra' field pads it to about this size.")
	AuctionAvgSize = options.Memory("auction.avg-size").Default(500).
			Desc("Average size of an auction event; the 'extra' field pads it to about this size.")
	BidAvgSize = options.Memory("bid.avg-size").Default(100).
			Desc("Average size of a bid event; the 'extra' field pads it to about this size.")
	PersonProportion = options.Int("person.proportion").Default(1).
				Desc("People among each person.proportion + auction.proportion + bid.proportion events.")
	AuctionProportion = options.Int("auction.proportion").Default(3).
				Desc("Auctions among each person.proportion + auction.proportion + bid.proportion events.")
	BidProportion = options.Int("bid.proportion").Default(46).
			Desc("Bids among each person.proportion + auction.proportion + bid.proportion events.")
	HotAuctionsRatio = options.Int("bid.hot-ratio.auctions").Default(2).
				Desc("A bid is for a hot auction with probability 1 - 1/ratio.")
	HotBiddersRatio = options.Int("bid.hot-ratio.bidders").Default(4).
			Desc("A bid is by a hot bidder with probability 1 - 1/ratio.")
	HotSellersRatio = options.Int("auction.hot-ratio.sellers").Default(4).
			Desc("An auction is by a hot seller with probability 1 - 1/ratio.")
	EventsNum = options.Long("events.num").Default(0).
			Desc("Number of events to generate; 0 means unbounded.")
	KeepAlive = options.Bool("keep-alive").Default(false).
			Desc("Keep the source running (idle, unbounded) after the last event.")
	StopAt = options.Long("stop-at").Default(-1).
		Desc("Stop after this many events (-1: no limit); the source is bounded when it is set.")
	MaxEmitSpeed = options.Bool("max-emit-speed").Default(true).
			Desc("Emit events as fast as possible; false emits each event when it is due by its event time.")
)

// Settings of the generator that the benchmark's Flink connector does not expose (NexmarkConfiguration
// fields), and reproducibility settings. Sluice extensions.
var (
	NumActivePeople = options.Int("num-active-people").Default(1000).
			Desc("Sluice extension (NexmarkConfiguration.numActivePeople): people considered active for placing auctions and bids.")
	NumInFlightAuctions = options.Int("num-in-flight-auctions").Default(100).
				Desc("Sluice extension (NexmarkConfiguration.numInFlightAuctions): average number of auctions in flight; sets auction lengths and which auctions bids go to.")
	OutOfOrderGroupSize = options.Long("out-of-order-group-size").Default(1).
				Desc("Sluice extension (NexmarkConfiguration.outOfOrderGroupSize): events are emitted in a pseudo-random order within groups of this many; 1 means in order.")
	NumEventGenerators = options.Int("num-event-generators").
				Desc("Sluice extension (NexmarkConfiguration.numEventGenerators): the generators the events are split into, each a contiguous range of event ids on a timeline of its own, as the benchmark's connector splits them across its source subtasks. Default: the number of source subtasks at the first start. With seed and base-time it makes the events the same at any parallelism.")
	Seed = options.Long("seed").
		Desc("Sluice extension: seed of the random generator; with it (and base-time) the events are the same in every run. Default: a random seed.")
	BaseTime = options.Long("base-time").
			Desc("Sluice extension: event time of the first event, in milliseconds since 1970-01-01 UTC. Default: the time the source is created.")
)

// Factory is the nexmark connector factory.
type Factory struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// Option configures a Factory (for tests; these are not table options).
type Option func(*Factory)

// WithClock replaces the clock used for the default base time and for pacing.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(f *Factory) { f.now, f.sleep = now, sleep }
}

// NewFactory returns the nexmark factory.
func NewFactory(opts ...Option) *Factory {
	f := &Factory{now: time.Now, sleep: connectors.Sleep}
	for _, o := range opts {
		o(f)
	}
	return f
}

var _ connectors.SourceFactory = (*Factory)(nil)

func (*Factory) Identifier() string { return "nexmark" }

func (*Factory) Options() []options.Decl {
	return options.Decls(RateShape, RatePeriod, RateLimited, FirstEventRate, NextEventRate, PersonAvgSize,
		AuctionAvgSize, BidAvgSize, PersonProportion, AuctionProportion, BidProportion, HotAuctionsRatio,
		HotBiddersRatio, HotSellersRatio, EventsNum, KeepAlive, StopAt, MaxEmitSpeed,
		NumActivePeople, NumInFlightAuctions, OutOfOrderGroupSize, NumEventGenerators, Seed, BaseTime)
}

// CreateSource validates the options and the table's schema and builds the source.
func (f *Factory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	r, err := connectors.ValidateOptions(f, ctx.Options)
	if err != nil {
		return nil, err
	}
	if err := CheckSchema(ctx.Table); err != nil {
		return nil, err
	}
	s, err := readSettings(r)
	if err != nil {
		return nil, err
	}
	src := &source{settings: s, now: f.now, sleep: f.sleep}
	if v, ok := NumEventGenerators.Lookup(r); ok {
		if v < 1 || v > maxGenerators {
			return nil, &options.Error{Keys: []string{NumEventGenerators.Key()},
				Msg: fmt.Sprintf("Invalid value for option 'num-event-generators': '%d' must be between 1 and %d", v, maxGenerators)}
		}
		src.generators = int(v)
	}
	src.paced = RateLimited.Get(r) || !MaxEmitSpeed.Get(r)
	src.keepAlive = KeepAlive.Get(r)
	if v, ok := Seed.Lookup(r); ok {
		src.seed = v
	} else {
		src.seed = f.now().UnixNano()
	}
	if v, ok := BaseTime.Lookup(r); ok {
		src.baseTime = v
	} else {
		src.baseTime = f.now().UnixMilli()
	}
	return src, nil
}

func readSettings(r *options.Resolved) (settings, error) {
	s := defaultSettings()
	s.RateShape = RateShape.Get(r)
	s.RatePeriodSec = int64(RatePeriod.Get(r) / time.Second)
	s.FirstEventRate = int64(FirstEventRate.Get(r))
	s.NextEventRate = int64(NextEventRate.Get(r))
	s.AvgPersonSize = int64(PersonAvgSize.Get(r))
	s.AvgAuctionSize = int64(AuctionAvgSize.Get(r))
	s.AvgBidSize = int64(BidAvgSize.Get(r))
	s.PersonProportion = int64(PersonProportion.Get(r))
	s.AuctionProportion = int64(AuctionProportion.Get(r))
	s.BidProportion = int64(BidProportion.Get(r))
	s.HotAuctionRatio = int64(HotAuctionsRatio.Get(r))
	s.HotBiddersRatio = int64(HotBiddersRatio.Get(r))
	s.HotSellersRatio = int64(HotSellersRatio.Get(r))
	s.NumEvents = EventsNum.Get(r)
	s.StopAt = StopAt.Get(r)
	s.NumActivePeople = int64(NumActivePeople.Get(r))
	s.NumInFlightAuctions = int64(NumInFlightAuctions.Get(r))
	s.OutOfOrderGroupSize = OutOfOrderGroupSize.Get(r)
	positive := []struct {
		key string
		v   int64
	}{
		{FirstEventRate.Key(), s.FirstEventRate}, {NextEventRate.Key(), s.NextEventRate},
		{PersonProportion.Key(), s.PersonProportion}, {AuctionProportion.Key(), s.AuctionProportion},
		{BidProportion.Key(), s.BidProportion}, {HotAuctionsRatio.Key(), s.HotAuctionRatio},
		{HotBiddersRatio.Key(), s.HotBiddersRatio}, {HotSellersRatio.Key(), s.HotSellersRatio},
		{NumActivePeople.Key(), s.NumActivePeople}, {NumInFlightAuctions.Key(), s.NumInFlightAuctions},
		{OutOfOrderGroupSize.Key(), s.OutOfOrderGroupSize},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return s, &options.Error{Keys: []string{p.key},
				Msg: fmt.Sprintf("Invalid value for option '%s': '%d' must be positive", p.key, p.v)}
		}
	}
	if s.NumEvents < 0 {
		return s, &options.Error{Keys: []string{EventsNum.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'events.num': '%d' must not be negative (0 means unbounded)", s.NumEvents)}
	}
	if s.StopAt < -1 {
		return s, &options.Error{Keys: []string{StopAt.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'stop-at': '%d' must be -1 (no limit) or a number of events", s.StopAt)}
	}
	if s.FirstEventRate != s.NextEventRate && s.RatePeriodSec <= 0 {
		return s, &options.Error{Keys: []string{RatePeriod.Key()},
			Msg: "Invalid value for option 'rate.period': it must be at least 1 s when next-event.rate differs from first-event.rate"}
	}
	return s, nil
}

// Schema is the physical schema of the benchmark's table (ddl_gen.sql): event_type (0 person, 1 auction,
// 2 bid) and one ROW per event type, NULL for the other types.
func Schema() []catalog.Column {
	str, big, ts := types.StringType(), types.BigIntType(), types.TimestampType(3)
	f := func(name string, t types.Type) types.Field { return types.Field{Name: name, Type: t} }
	return []catalog.Column{
		{Name: "event_type", Type: types.IntType()},
		{Name: "person", Type: types.RowType(f("id", big), f("name", str), f("emailAddress", str),
			f("creditCard", str), f("city", str), f("state", str), f("dateTime", ts), f("extra", str))},
		{Name: "auction", Type: types.RowType(f("id", big), f("itemName", str), f("description", str),
			f("initialBid", big), f("reserve", big), f("dateTime", ts), f("expires", ts), f("seller", big),
			f("category", big), f("extra", str))},
		{Name: "bid", Type: types.RowType(f("auction", big), f("bidder", big), f("price", big), f("channel", str),
			f("url", str), f("dateTime", ts), f("extra", str))},
	}
}

// CheckSchema reports a table whose physical columns are not the benchmark's (names, order and types;
// VARCHAR of any length and TIMESTAMP of any precision are accepted) or that declares metadata columns.
func CheckSchema(t *catalog.Table) error {
	want := Schema()
	var ddl []string
	for _, c := range want {
		ddl = append(ddl, "`"+c.Name+"` "+c.Type.String())
	}
	fail := func(format string, args ...any) error {
		return &options.Error{Msg: fmt.Sprintf("Table '%s' does not have the schema of connector 'nexmark': %s. Declare the physical columns as the Nexmark benchmark's ddl_gen.sql does: %s.",
			t.Name, fmt.Sprintf(format, args...), strings.Join(ddl, ", "))}
	}
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn {
			return fail("metadata column '%s' is not supported (connector 'nexmark' has no metadata)", c.Name)
		}
	}
	got := t.PhysicalColumns()
	if len(got) != len(want) {
		names := make([]string, len(got))
		for i, c := range got {
			names[i] = c.Name
		}
		return fail("it has %d physical columns (%s), want 4", len(got), strings.Join(names, ", "))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name {
			return fail("physical column %d is '%s', want '%s'", i+1, g.Name, w.Name)
		}
		if err := matchType(g.Type, w.Type, g.Name); err != "" {
			return fail("%s", err)
		}
	}
	return nil
}

// matchType compares a declared type with the expected one, returning what differs ("" when it matches).
func matchType(got, want types.Type, path string) string {
	switch want.Kind {
	case types.VarChar:
		if got.IsString() {
			return ""
		}
	case types.Timestamp:
		if got.Kind == types.Timestamp {
			return ""
		}
	case types.Row:
		if got.Kind != types.Row {
			break
		}
		if len(got.Fields) != len(want.Fields) {
			return fmt.Sprintf("column '%s' has %d fields, want %d (%s)", path, len(got.Fields), len(want.Fields), want)
		}
		for i, wf := range want.Fields {
			gf := got.Fields[i]
			if gf.Name != wf.Name {
				return fmt.Sprintf("field %d of column '%s' is '%s', want '%s'", i+1, path, gf.Name, wf.Name)
			}
			if e := matchType(gf.Type, wf.Type, path+"."+wf.Name); e != "" {
				return e
			}
		}
		return ""
	default:
		if got.Kind == want.Kind {
			return ""
		}
	}
	return fmt.Sprintf("column '%s' has type %s, want %s", path, got, want)
}
