package kafka

import (
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Metadata columns on the columnar path: the common keys whose declared type needs no cast (timestamp as
// TIMESTAMP_LTZ(3+), partition/leader-epoch as INT or BIGINT, offset as BIGINT, topic and timestamp-type as
// any string type) are appended to their typed column straight from the record, with no types.Value, cast
// or key lookup per record. The headers MAP, declared MAP<STRING, BYTES> (any string and binary types), is a
// column of map values built in the run's headerArena: no allocation per record, and no reference into the
// record (its keys and values are copied), so the run's batches stay poolable (copiesRecords). The other
// declarations (TIMESTAMP in the session zone, narrower integers, DECIMAL, DOUBLE, strings of numbers,
// headers as MAP<STRING, STRING>) take readMetadata, the column's cast and Col.Append, as the row path does.

// metaAppender appends key's value of rec at row of col; it cannot fail.
type metaAppender func(col *vec.Col, rec *kgo.Record, row int)

// directMeta returns the appender of m, or nil when m goes through its cast.
func directMeta(m *metaColumn) metaAppender {
	t := m.col.Type
	wideInt := t.Kind == types.Int || t.Kind == types.BigInt
	switch m.key.name {
	case metaTimestamp:
		if t.Kind == types.TimestampLTZ && t.Precision >= 3 {
			return func(col *vec.Col, rec *kgo.Record, _ int) { col.AppendTimestamp(rec.Timestamp.UnixMilli(), 0) }
		}
	case metaPartition:
		if wideInt {
			return func(col *vec.Col, rec *kgo.Record, _ int) { col.I64 = append(col.I64, int64(rec.Partition)) }
		}
	case metaOffset:
		if t.Kind == types.BigInt {
			return func(col *vec.Col, rec *kgo.Record, _ int) { col.I64 = append(col.I64, rec.Offset) }
		}
	case metaLeaderEpoch:
		if wideInt {
			return func(col *vec.Col, rec *kgo.Record, row int) {
				if rec.LeaderEpoch < 0 {
					col.AppendNull(row)
					return
				}
				col.I64 = append(col.I64, int64(rec.LeaderEpoch))
			}
		}
	case metaTopic:
		if t.IsString() {
			return func(col *vec.Col, rec *kgo.Record, _ int) { col.AppendString(rec.Topic) }
		}
	case metaTimestampType:
		if t.IsString() {
			return func(col *vec.Col, rec *kgo.Record, _ int) { col.AppendString(timestampTypeName(rec)) }
		}
	case metaHeaders:
		if ownsHeaders(t) {
			a := &headerArena{}
			return func(col *vec.Col, rec *kgo.Record, row int) { col.Append(row, a.headers(rec.Headers)) }
		}
	}
	return nil
}

// ownsHeaders reports a headers declaration whose values directMeta appends from a headerArena: a MAP of
// strings to binary strings (no cast), held in a column of row values.
func ownsHeaders(t types.Type) bool {
	return t.Kind == types.Map && t.Key != nil && t.Elem != nil && t.Key.IsString() && t.Elem.IsBinary() &&
		vec.ColFor(t).Kind == vec.Values
}

// headerArena holds the maps of the 'headers' metadata column: the MapValues, their keys and values and the
// bytes of both, in chunks allocated every few hundred records. Chunks are never written again once handed
// out (rows made from a pushed batch may keep them), so a full chunk is replaced, not reused.
type headerArena struct {
	maps []types.MapValue
	vals []types.Value
	data []byte
}

const (
	headerMapsChunk = 256
	headerValsChunk = 1024
	headerDataChunk = 16 << 10
)

// headers is the 'headers' value of a record's headers, as readMetadata's: one entry per key, in the order
// keys first appear, with the last value of a repeated key (Flink puts every header into a HashMap); a
// header without a value maps to NULL.
func (a *headerArena) headers(hs []kgo.RecordHeader) types.Value {
	if len(a.maps) == cap(a.maps) {
		a.maps = make([]types.MapValue, 0, headerMapsChunk)
	}
	a.maps = a.maps[:len(a.maps)+1]
	m := &a.maps[len(a.maps)-1]
	if len(hs) == 0 {
		return types.MapOf(m)
	}
	keys, vals := a.take(len(hs)), a.take(len(hs))
	n := 0
	for _, h := range hs {
		v := types.NullValue
		if h.Value != nil {
			v = types.Value{T: types.TagBytes, S: a.str(h.Value)}
		}
		if k := indexHeader(keys[:n], h.Key); k >= 0 {
			vals[k] = v
			continue
		}
		keys[n] = types.StringValue(a.str(unsafe.Slice(unsafe.StringData(h.Key), len(h.Key))))
		vals[n] = v
		n++
	}
	m.Keys, m.Vals = keys[:n:n], vals[:n:n]
	return types.MapOf(m)
}

// indexHeader is the index of key among keys, or -1.
func indexHeader(keys []types.Value, key string) int {
	for i, k := range keys {
		if k.S == key {
			return i
		}
	}
	return -1
}

// take returns n values of a chunk.
func (a *headerArena) take(n int) []types.Value {
	if len(a.vals)+n > cap(a.vals) {
		a.vals = make([]types.Value, 0, max(headerValsChunk, n))
	}
	s := len(a.vals)
	a.vals = a.vals[:s+n]
	return a.vals[s : s+n : s+n]
}

// str copies b into a chunk and returns it as a string.
func (a *headerArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(a.data)+len(b) > cap(a.data) {
		a.data = make([]byte, 0, max(headerDataChunk, len(b)))
	}
	s := len(a.data)
	a.data = append(a.data, b...)
	return unsafe.String(&a.data[s], len(b))
}

// timestampTypeName is the 'timestamp-type' metadata value of rec.
func timestampTypeName(rec *kgo.Record) string {
	switch rec.Attrs.TimestampType() {
	case 0:
		return "CreateTime"
	case 1:
		return "LogAppendTime"
	}
	return "NoTimestampType"
}
