package kafka

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Metadata keys (METADATA FROM 'key').
const (
	metaTopic         = "topic"
	metaPartition     = "partition"
	metaHeaders       = "headers"
	metaLeaderEpoch   = "leader-epoch"
	metaOffset        = "offset"
	metaTimestamp     = "timestamp"
	metaTimestampType = "timestamp-type"
)

func headersType() types.Type {
	return types.MapType(types.StringType(), types.BytesType()).WithNullable(false)
}

// metadataKey describes one metadata key: its type, and whether a sink can write it.
type metadataKey struct {
	name     string
	typ      types.Type
	writable bool
}

// writableBy reports whether the sink of connector can write the key: upsert-kafka writes each record to
// its table's topic, so 'topic' is read-only there (as in Flink).
func (k metadataKey) writableBy(connector string) bool {
	return k.writable && !(connector == upsertIdentifier && k.name == metaTopic)
}

// metadataKeys in REFERENCE.md's order.
var metadataKeys = []metadataKey{
	{metaTopic, types.StringType().WithNullable(false), true},
	{metaPartition, types.IntType().WithNullable(false), false},
	{metaHeaders, headersType(), true},
	{metaLeaderEpoch, types.IntType(), false},
	{metaOffset, types.BigIntType().WithNullable(false), false},
	{metaTimestamp, types.TimestampLTZType(3).WithNullable(false), true},
	{metaTimestampType, types.StringType().WithNullable(false), false},
}

func lookupMetadataKey(name string) (metadataKey, bool) {
	for _, k := range metadataKeys {
		if k.name == name {
			return k, true
		}
	}
	return metadataKey{}, false
}

func metadataMap(writable bool, connector string) map[string]types.Type {
	m := map[string]types.Type{}
	for _, k := range metadataKeys {
		if !writable || k.writableBy(connector) {
			m[k.name] = k.typ
		}
	}
	return m
}

func metadataKeyList(writable bool, connector string) string {
	var b strings.Builder
	for _, k := range metadataKeys {
		if writable && !k.writableBy(connector) {
			continue
		}
		fmt.Fprintf(&b, "\n%s: %s", k.name, k.typ)
	}
	return b.String()
}

// metaColumn is a declared metadata column resolved against its key.
type metaColumn struct {
	col  catalog.Column
	key  metadataKey
	cast func(types.Value) (types.Value, error) // canonical value → declared type (read side)
}

// resolveMetadata checks the table's metadata columns against the keys. For a sink only the persisted
// (non-virtual) columns are returned, and they must be writable.
func resolveMetadata(t *catalog.Table, sink bool, loc *time.Location, connector string) ([]metaColumn, error) {
	var out []metaColumn
	for _, c := range t.Columns {
		if c.Kind != sql.MetadataColumn {
			continue
		}
		if sink && c.Virtual {
			continue
		}
		name := c.MetadataKey
		if name == "" {
			name = c.Name
		}
		k, ok := lookupMetadataKey(name)
		if !ok {
			msg := fmt.Sprintf("Invalid metadata key '%s' in column '%s' of table '%s'. The %s connector supports the following metadata keys for reading:%s",
				name, c.Name, t.Name, connector, metadataKeyList(false, connector))
			if s, ok := options.Suggest(name, metadataNames()); ok {
				msg += fmt.Sprintf("\n\nDid you mean '%s'?", s)
			}
			return nil, &options.Error{Msg: msg}
		}
		if sink && !k.writableBy(connector) {
			return nil, &options.Error{Msg: fmt.Sprintf("Metadata column '%s' of table '%s' reads key '%s', which the %s sink cannot write. Declare it VIRTUAL to read it only. Writable metadata keys are:%s",
				c.Name, t.Name, name, connector, metadataKeyList(true, connector))}
		}
		mc := metaColumn{col: c, key: k}
		var err error
		if sink {
			err = checkWritable(k, c.Type)
		} else {
			mc.cast, err = metadataCast(k.typ, c.Type, loc)
		}
		if err != nil {
			return nil, &options.Error{Msg: fmt.Sprintf("Invalid data type for metadata column '%s' of table '%s': metadata key '%s' is %s, %s",
				c.Name, t.Name, name, k.typ, err.Error())}
		}
		out = append(out, mc)
	}
	return out, nil
}

func metadataNames() []string {
	out := make([]string, len(metadataKeys))
	for i, k := range metadataKeys {
		out[i] = k.name
	}
	sort.Strings(out)
	return out
}

var identity = func(v types.Value) (types.Value, error) { return v, nil }

// metadataCast returns the conversion of a metadata value of type from into the declared type to.
func metadataCast(from, to types.Type, loc *time.Location) (func(types.Value) (types.Value, error), error) {
	fail := func() error { return fmt.Errorf("which cannot be cast to the declared type %s", to) }
	switch from.Kind {
	case types.VarChar:
		if to.IsString() {
			return identity, nil
		}
	case types.Int, types.BigInt:
		switch {
		case to.IsIntegral():
			lo, hi := intRange(to.Kind)
			return func(v types.Value) (types.Value, error) {
				if !v.IsNull() && (v.I < lo || v.I > hi) {
					return v, fmt.Errorf("value %d is out of range for %s", v.I, to)
				}
				return v, nil
			}, nil
		case to.Kind == types.Decimal:
			return func(v types.Value) (types.Value, error) {
				if v.IsNull() {
					return v, nil
				}
				d := types.DecimalRescale(types.DecimalFromInt(v.I), to.Scale)
				if !types.DecimalFits(d, to.Precision, to.Scale) {
					return v, fmt.Errorf("value %d is out of range for %s", v.I, to)
				}
				return d, nil
			}, nil
		case to.Kind == types.Float || to.Kind == types.Double:
			return func(v types.Value) (types.Value, error) {
				if v.IsNull() {
					return v, nil
				}
				return types.FloatValue(float64(v.I)), nil
			}, nil
		case to.IsString():
			return func(v types.Value) (types.Value, error) {
				if v.IsNull() {
					return v, nil
				}
				return types.StringValue(strconv.FormatInt(v.I, 10)), nil
			}, nil
		}
	case types.TimestampLTZ:
		switch to.Kind {
		case types.TimestampLTZ:
			if to.Precision >= 3 {
				return identity, nil
			}
			return func(v types.Value) (types.Value, error) {
				return types.TruncateTimestamp(v, to.Precision), nil
			}, nil
		case types.Timestamp:
			return func(v types.Value) (types.Value, error) {
				if v.IsNull() {
					return v, nil
				}
				return types.TruncateTimestamp(types.TimestampToLocal(v, loc), min(to.Precision, 3)), nil
			}, nil
		}
	case types.Map:
		if to.Kind == types.Map && to.Key.IsString() {
			switch {
			case to.Elem.IsBinary():
				return identity, nil
			case to.Elem.IsString():
				return func(v types.Value) (types.Value, error) {
					m := v.Map()
					if m == nil {
						return v, nil
					}
					vals := make([]types.Value, len(m.Vals))
					for i, x := range m.Vals {
						if !x.IsNull() {
							x = types.StringValue(x.S)
						}
						vals[i] = x
					}
					return types.MapOf(&types.MapValue{Keys: m.Keys, Vals: vals}), nil
				}, nil
			}
		}
	}
	return nil, fail()
}

func intRange(k types.Kind) (int64, int64) {
	switch k {
	case types.TinyInt:
		return math.MinInt8, math.MaxInt8
	case types.SmallInt:
		return math.MinInt16, math.MaxInt16
	case types.Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// checkWritable checks that a sink column of type t can provide the metadata key k.
func checkWritable(k metadataKey, t types.Type) error {
	ok := false
	switch k.name {
	case metaTopic:
		ok = t.IsString()
	case metaTimestamp:
		ok = t.IsTimestamp()
	case metaHeaders:
		ok = t.Kind == types.Map && t.Key.IsString() && (t.Elem.IsBinary() || t.Elem.IsString())
	}
	if !ok {
		return fmt.Errorf("and the declared type %s cannot be written as it", t)
	}
	return nil
}

// readMetadata returns the canonical value of key k for record r.
func readMetadata(k string, r *kgo.Record) types.Value {
	switch k {
	case metaTopic:
		return types.StringValue(r.Topic)
	case metaPartition:
		return types.IntValue(int64(r.Partition))
	case metaHeaders:
		if len(r.Headers) == 0 {
			return types.MapOf(&types.MapValue{})
		}
		// One entry per key, the last value of a repeated key (Flink puts the headers into a HashMap), in the
		// order keys first appear; the columnar path's headerArena makes the same maps.
		m := &types.MapValue{Keys: make([]types.Value, 0, len(r.Headers)), Vals: make([]types.Value, 0, len(r.Headers))}
		for _, h := range r.Headers {
			v := types.NullValue
			if h.Value != nil {
				v = types.BytesValue(h.Value)
			}
			if k := indexHeader(m.Keys, h.Key); k >= 0 {
				m.Vals[k] = v
				continue
			}
			m.Keys = append(m.Keys, types.StringValue(h.Key))
			m.Vals = append(m.Vals, v)
		}
		return types.MapOf(m)
	case metaLeaderEpoch:
		if r.LeaderEpoch < 0 {
			return types.NullValue
		}
		return types.IntValue(int64(r.LeaderEpoch))
	case metaOffset:
		return types.IntValue(r.Offset)
	case metaTimestamp:
		return types.TimestampValue(r.Timestamp.UnixMilli(), 0)
	case metaTimestampType:
		return types.StringValue(timestampTypeName(r))
	}
	return types.NullValue
}

// writeMetadata sets metadata key k on record r from the value v of a sink column of type t.
func writeMetadata(k string, v types.Value, t types.Type, r *kgo.Record, loc *time.Location) {
	if v.IsNull() {
		return
	}
	switch k {
	case metaTopic:
		r.Topic = v.S
	case metaTimestamp:
		if t.Kind == types.Timestamp {
			v = types.TimestampFromLocal(v, loc)
		}
		r.Timestamp = time.UnixMilli(v.I)
	case metaHeaders:
		m := v.Map()
		if m == nil {
			return
		}
		r.Headers = r.Headers[:0]
		for i, key := range m.Keys {
			h := kgo.RecordHeader{Key: key.S}
			if val := m.Vals[i]; !val.IsNull() {
				h.Value = []byte(val.S)
			}
			r.Headers = append(r.Headers, h)
		}
	}
}
