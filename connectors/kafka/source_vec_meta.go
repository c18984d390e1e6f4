package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Metadata columns on the columnar path: the common keys whose declared type needs no cast (timestamp as
// TIMESTAMP_LTZ(3+), partition/leader-epoch as INT or BIGINT, offset as BIGINT, topic and timestamp-type as
// any string type) are appended to their typed column straight from the record, with no types.Value, cast
// or key lookup per record. The other declarations (TIMESTAMP in the session zone, narrower integers,
// DECIMAL, DOUBLE, strings of numbers) and the headers MAP take readMetadata, the column's cast and
// Col.Append, as the row path does.

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
	}
	return nil
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
