package avro

import (
	"fmt"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Option declarations, without the format prefix.
var (
	Codec = options.Enum("codec", "null", "deflate", "snappy", "bzip2", "xz", "zstandard").
		Desc("Compression codec of Avro container files (filesystem connector only; messages on Kafka are never compressed by the format).")
	TimestampMappingLegacy = options.Bool("timestamp_mapping.legacy").Default(true).
				Desc("Map both TIMESTAMP and TIMESTAMP_LTZ to timestamp-millis/-micros (true, Flink's default); false maps TIMESTAMP to local-timestamp-millis/-micros.")
)

// Factory is the avro format factory.
type Factory struct{}

// NewFactory returns the avro format factory.
func NewFactory() *Factory { return &Factory{} }

var _ formats.Factory = (*Factory)(nil)

func (*Factory) Identifier() string { return "avro" }

func (*Factory) Options() []options.Decl {
	return options.Decls(Codec, TimestampMappingLegacy)
}

// Derive returns the Avro schema text of the context's row type with the format's options.
func (f *Factory) derive(ctx formats.Context) (string, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return "", err
	}
	return DeriveSchema(ctx.RowType, DeriveOptions{LocalTimestamps: !TimestampMappingLegacy.Get(r)})
}

func (f *Factory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	text, err := f.derive(ctx)
	if err != nil {
		return nil, err
	}
	s, err := ParseSchema(text)
	if err != nil {
		return nil, fmt.Errorf("derived schema %s: %w", text, err)
	}
	p, err := NewDecodePlan(s, ctx.RowType, nil)
	if err != nil {
		return nil, &options.Error{Msg: err.Error()}
	}
	return &Decoder{plan: p, nfields: len(ctx.RowType.Fields), rowType: ctx.RowType}, nil
}

func (f *Factory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	text, err := f.derive(ctx)
	if err != nil {
		return nil, err
	}
	s, err := ParseSchema(text)
	if err != nil {
		return nil, fmt.Errorf("derived schema %s: %w", text, err)
	}
	p, err := NewEncodePlan(ctx.RowType, s)
	if err != nil {
		return nil, &options.Error{Msg: err.Error()}
	}
	return &Encoder{plan: p}, nil
}

// Decoder reads plain Avro binary messages written with the table-derived schema.
type Decoder struct {
	plan    *DecodePlan
	nfields int
	rowType types.Type
}

var _ formats.Decoder = (*Decoder)(nil)

// Decode reads one message. Bytes left after the record are an error: they mean the message was not written
// with this schema (a Confluent-framed message read as plain avro, for instance).
func (d *Decoder) Decode(data []byte, dst []types.Value) (bool, error) {
	n, err := d.plan.Decode(data, dst[:d.nfields])
	if err != nil {
		return false, RecordError(err, false, "failed to deserialize Avro record")
	}
	if n != len(data) {
		return false, trailingError(n, len(data))
	}
	return true, nil
}

func trailingError(n, size int) error {
	return &formats.RecordError{Err: formats.ErrDecode,
		Msg: fmt.Sprintf("failed to deserialize Avro record: %d bytes left after the record (of %d); was it written with another schema or framing?", size-n, size)}
}

// Encoder writes rows as plain Avro binary messages of the table-derived schema.
type Encoder struct {
	plan *EncodePlan
}

var _ formats.Encoder = (*Encoder)(nil)

func (e *Encoder) Encode(dst []byte, row []types.Value) ([]byte, error) {
	out, err := e.plan.Append(dst, row)
	if err != nil {
		return dst, RecordError(err, true, "failed to serialize Avro record")
	}
	return out, nil
}

// RecordError turns a plan error into a *formats.RecordError wrapping ErrEncode (encode) or ErrDecode, its
// message starting with what.
func RecordError(err error, encode bool, what string) error {
	sentinel := formats.ErrDecode
	if encode {
		sentinel = formats.ErrEncode
	}
	re := &formats.RecordError{Err: sentinel, Msg: what + ": " + err.Error()}
	if de, ok := err.(*DecodeError); ok {
		re.Field = de.Field
	}
	return re
}
