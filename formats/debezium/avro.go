package debezium

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avroconfluent"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// AvroConfluentFactory is 'debezium-avro-confluent': Debezium's envelope {before, after, op} in Avro, in the
// Confluent wire format with a Schema Registry, as Debezium's AvroConverter writes it. It takes the options
// of avro-confluent ('debezium-avro-confluent.url', 1.12's '...schema-registry.url', subject, auth, ...).
// The envelope's writer schema is resolved against the reader envelope derived from the table (before and
// after are the table's row, nullable; op a string), so Debezium's own schema names and extra envelope fields
// (source, ts_ms, transaction) do not matter.
type AvroConfluentFactory struct{}

// NewAvroConfluentFactory returns the debezium-avro-confluent factory.
func NewAvroConfluentFactory() *AvroConfluentFactory { return &AvroConfluentFactory{} }

var _ formats.Factory = (*AvroConfluentFactory)(nil)

func (*AvroConfluentFactory) Identifier() string { return "debezium-avro-confluent" }

func (*AvroConfluentFactory) Options() []options.Decl { return avroconfluent.NewFactory().Options() }

// avroEnvelope is ROW<before ROW<...>, after ROW<...>, op STRING>, all nullable.
func avroEnvelope(row types.Type) types.Type {
	r := row.WithNullable(true)
	return types.RowType(
		types.Field{Name: "before", Type: r},
		types.Field{Name: "after", Type: r},
		types.Field{Name: "op", Type: types.StringType()})
}

func (f *AvroConfluentFactory) inner(ctx formats.Context) (formats.Context, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return formats.Context{}, err
	}
	return formats.Context{RowType: avroEnvelope(ctx.RowType), Options: ctx.Options, Resolved: r}, nil
}

// CreateDecoder returns a formats.ChangelogDecoder.
func (f *AvroConfluentFactory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	ictx, err := f.inner(ctx)
	if err != nil {
		return nil, err
	}
	dec, err := avroconfluent.NewFactory().CreateDecoder(ictx)
	if err != nil {
		return nil, err
	}
	return &avroDecoder{env: dec, vals: make([]types.Value, 3)}, nil
}

// CreateEncoder returns a formats.ChangelogEncoder.
func (f *AvroConfluentFactory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	ictx, err := f.inner(ctx)
	if err != nil {
		return nil, err
	}
	enc, err := avroconfluent.NewFactory().CreateEncoder(ictx)
	if err != nil {
		return nil, err
	}
	return &avroEncoder{env: enc, vals: make([]types.Value, 3)}, nil
}

type avroDecoder struct {
	env  formats.Decoder
	vals []types.Value
}

// Project passes the columns a query reads on to the envelope's decoder (formats/avroconfluent): the before and
// after images skip the other fields; op is always read.
func (d *avroDecoder) Project(p *formats.Projection) {
	if pr, ok := d.env.(formats.Projector); ok {
		pr.Project(&formats.Projection{Need: []bool{true, true, true}, Sub: []*formats.Projection{p, p, nil}})
	}
}

func (d *avroDecoder) Decode([]byte, []formats.Value) (bool, error) {
	return false, &formats.RecordError{Err: formats.ErrDecode,
		Msg: "debezium-avro-confluent is a changelog format; this connector cannot read changelogs (use it as the value format of 'kafka')"}
}

func (d *avroDecoder) DecodeChangelog(data []byte, emit func(changelog.Kind, []formats.Value) error) error {
	if len(data) == 0 {
		return nil // Debezium's tombstone after a delete
	}
	ok, err := d.env.Decode(data, d.vals)
	if err != nil || !ok {
		return err // ok=false without error: skipped under ignore-parse-errors
	}
	before, after, op := d.vals[0], d.vals[1], d.vals[2]
	fail := func(msg string) error {
		return &formats.RecordError{Err: formats.ErrDecode, Msg: msg}
	}
	switch op.Str() {
	case "c", "r":
		if after.IsNull() {
			return fail(`The "after" field of an insert message is null.`)
		}
		return emit(changelog.Insert, after.Fields())
	case "u":
		if before.IsNull() {
			return fail(`The "before" field of UPDATE message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level.`)
		}
		if after.IsNull() {
			return fail(`The "after" field of UPDATE message is null.`)
		}
		if err := emit(changelog.UpdateBefore, before.Fields()); err != nil {
			return err
		}
		return emit(changelog.UpdateAfter, after.Fields())
	case "d":
		if before.IsNull() {
			return fail(`The "before" field of DELETE message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level.`)
		}
		return emit(changelog.Delete, before.Fields())
	}
	return fail(`Unknown "op" value "` + op.Str() + `" in a Debezium Avro message.`)
}

type avroEncoder struct {
	env  formats.Encoder
	vals []types.Value
}

func (e *avroEncoder) Encode(dst []byte, row []formats.Value) ([]byte, error) {
	return e.EncodeChangelog(dst, changelog.Insert, row)
}

func (e *avroEncoder) EncodeChangelog(dst []byte, kind changelog.Kind, row []formats.Value) ([]byte, error) {
	if kind == changelog.Insert || kind == changelog.UpdateAfter {
		e.vals[0], e.vals[1], e.vals[2] = types.NullValue, types.RowValue(row), types.StringValue("c")
	} else {
		e.vals[0], e.vals[1], e.vals[2] = types.RowValue(row), types.NullValue, types.StringValue("d")
	}
	return e.env.Encode(dst, e.vals)
}
