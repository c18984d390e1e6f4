// Package debezium is the 'debezium-json' changelog format: Debezium's JSON envelope
// {"before": {...}, "after": {...}, "op": "c|r|u|d"} read as +I (c, r), -U then +U (u) and -D (d), and
// written back the way Flink writes it (+I/+U as op "c" with "after", -U/-D as op "d" with "before").
//
// The row images are read and written by the json format, so json's type mapping and its options
// (timestamp-format.standard, map-null-key.*, encode.decimal-as-plain-number) apply. With schema-include
// the envelope is wrapped in {"schema": ..., "payload": {...}}, as Debezium's JsonConverter does with
// schemas.enable=true. Debezium's tombstones (a null value after a delete) are skipped.
package debezium

import (
	stdjson "encoding/json"
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/json"
	"github.com/sluicesql/sluice/options"
)

// Option declarations, without the 'debezium-json.' prefix.
var (
	SchemaInclude = options.Bool("schema-include").Default(false).
			Desc("Messages carry Debezium's schema: the envelope is under \"payload\" (JsonConverter schemas.enable=true).")
	IgnoreParseErrors = options.Bool("ignore-parse-errors").Default(false).
				Desc("Skip messages that cannot be parsed instead of failing.")
	TimestampFormat = options.Enum("timestamp-format.standard", "SQL", "ISO-8601").Default("SQL").
			Desc("Timestamp layout of the row images: SQL or ISO-8601.")
	MapNullKeyMode = options.Enum("map-null-key.mode", "FAIL", "DROP", "LITERAL").Default("FAIL").
			Desc("What to do with a NULL map key when encoding.")
	MapNullKeyLiteral = options.String("map-null-key.literal").Default("null").
				Desc("The key written for NULL map keys when map-null-key.mode is LITERAL.")
	DecimalAsPlainNumber = options.Bool("encode.decimal-as-plain-number").Default(false).
				Desc("Write decimals as plain numbers rather than in scientific notation.")
)

// JSONFactory is the debezium-json format factory.
type JSONFactory struct{}

// NewJSONFactory returns the debezium-json factory.
func NewJSONFactory() *JSONFactory { return &JSONFactory{} }

var _ formats.Factory = (*JSONFactory)(nil)

func (*JSONFactory) Identifier() string { return "debezium-json" }

func (*JSONFactory) Options() []options.Decl {
	return options.Decls(SchemaInclude, IgnoreParseErrors, TimestampFormat, MapNullKeyMode, MapNullKeyLiteral, DecimalAsPlainNumber)
}

// inner builds the json format context for the row images.
func (f *JSONFactory) inner(ctx formats.Context) (formats.Context, *options.Resolved, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return formats.Context{}, nil, err
	}
	opts := map[string]string{
		"timestamp-format.standard":      TimestampFormat.Get(r),
		"map-null-key.mode":              MapNullKeyMode.Get(r),
		"map-null-key.literal":           MapNullKeyLiteral.Get(r),
		"encode.decimal-as-plain-number": fmt.Sprint(DecimalAsPlainNumber.Get(r)),
	}
	return formats.Context{RowType: ctx.RowType, Options: opts}, r, nil
}

// CreateDecoder returns a formats.ChangelogDecoder.
func (f *JSONFactory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	ictx, r, err := f.inner(ctx)
	if err != nil {
		return nil, err
	}
	row, err := json.NewFactory().CreateDecoder(ictx)
	if err != nil {
		return nil, err
	}
	n := len(ctx.RowType.Fields)
	return &decoder{row: row, schema: SchemaInclude.Get(r), ignore: IgnoreParseErrors.Get(r),
		before: make([]formats.Value, n), after: make([]formats.Value, n)}, nil
}

// CreateEncoder returns a formats.ChangelogEncoder.
func (f *JSONFactory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	ictx, r, err := f.inner(ctx)
	if err != nil {
		return nil, err
	}
	if SchemaInclude.Get(r) {
		return nil, &options.Error{Keys: []string{"schema-include"},
			Msg: "Debezium JSON serialization doesn't support 'debezium-json.schema-include' option been set to true."}
	}
	row, err := json.NewFactory().CreateEncoder(ictx)
	if err != nil {
		return nil, err
	}
	return &encoder{row: row}, nil
}

type envelope struct {
	Before stdjson.RawMessage `json:"before"`
	After  stdjson.RawMessage `json:"after"`
	Op     string             `json:"op"`
}

type withSchema struct {
	Payload *envelope `json:"payload"`
}

type decoder struct {
	row           formats.Decoder
	schema        bool
	ignore        bool
	before, after []formats.Value
}

// Project passes the columns a query reads on to the images' decoder (formats/json): the other fields are
// skipped in the before and after images (scanned for JSON syntax only), as Flink's debezium-json decodes
// projected images (a ProjectableDecodingFormat).
func (d *decoder) Project(p *formats.Projection) {
	if pr, ok := d.row.(formats.Projector); ok {
		pr.Project(p)
	}
}

// Decode is for callers that do not know changelog formats: it refuses, rather than losing deletes.
func (d *decoder) Decode([]byte, []formats.Value) (bool, error) {
	return false, &formats.RecordError{Err: formats.ErrDecode,
		Msg: "debezium-json is a changelog format; this connector cannot read changelogs (use it as the value format of 'kafka')"}
}

func isNull(raw stdjson.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func (d *decoder) fail(data []byte, format string, args ...any) error {
	if d.ignore {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if len(data) > 200 {
		data = append(data[:200:200], "..."...)
	}
	return &formats.RecordError{Err: formats.ErrDecode, Msg: fmt.Sprintf("%s The Debezium JSON message is '%s'.", msg, data)}
}

func (d *decoder) image(data []byte, which string, raw stdjson.RawMessage, dst []formats.Value) (bool, error) {
	ok, err := d.row.Decode(raw, dst)
	if err != nil {
		if d.ignore {
			return false, nil
		}
		return false, fmt.Errorf("the %q image: %w", which, err)
	}
	return ok, nil
}

func (d *decoder) DecodeChangelog(data []byte, emit func(changelog.Kind, []formats.Value) error) error {
	if len(data) == 0 {
		return nil // Debezium's tombstone after a delete
	}
	var env envelope
	if d.schema {
		var ws withSchema
		if err := stdjson.Unmarshal(data, &ws); err != nil {
			return d.fail(data, "Corrupt Debezium JSON message: %v.", err)
		}
		if ws.Payload == nil {
			return d.fail(data, "The Debezium JSON message has no \"payload\" although 'debezium-json.schema-include' is true.")
		}
		env = *ws.Payload
	} else if err := stdjson.Unmarshal(data, &env); err != nil {
		return d.fail(data, "Corrupt Debezium JSON message: %v.", err)
	}
	switch env.Op {
	case "c", "r":
		if isNull(env.After) {
			return d.fail(data, "The \"after\" field of an insert message is null.")
		}
		if ok, err := d.image(data, "after", env.After, d.after); !ok || err != nil {
			return err
		}
		return emit(changelog.Insert, d.after)
	case "u":
		if isNull(env.Before) {
			return d.fail(data, "The \"before\" field of UPDATE message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level.")
		}
		if isNull(env.After) {
			return d.fail(data, "The \"after\" field of UPDATE message is null.")
		}
		if ok, err := d.image(data, "before", env.Before, d.before); !ok || err != nil {
			return err
		}
		if ok, err := d.image(data, "after", env.After, d.after); !ok || err != nil {
			return err
		}
		if err := emit(changelog.UpdateBefore, d.before); err != nil {
			return err
		}
		return emit(changelog.UpdateAfter, d.after)
	case "d":
		if isNull(env.Before) {
			return d.fail(data, "The \"before\" field of DELETE message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level.")
		}
		if ok, err := d.image(data, "before", env.Before, d.before); !ok || err != nil {
			return err
		}
		return emit(changelog.Delete, d.before)
	case "":
		return d.fail(data, "The Debezium JSON message has no \"op\" field; if it carries a schema (schemas.enable=true), set 'debezium-json.schema-include' = 'true'.")
	}
	return d.fail(data, "Unknown \"op\" value \"%s\".", env.Op)
}

type encoder struct {
	row formats.Encoder
}

// Encode writes an insert.
func (e *encoder) Encode(dst []byte, row []formats.Value) ([]byte, error) {
	return e.EncodeChangelog(dst, changelog.Insert, row)
}

func (e *encoder) EncodeChangelog(dst []byte, kind changelog.Kind, row []formats.Value) ([]byte, error) {
	var err error
	if kind == changelog.Insert || kind == changelog.UpdateAfter {
		dst = append(dst, `{"before":null,"after":`...)
		if dst, err = e.row.Encode(dst, row); err != nil {
			return nil, err
		}
		return append(dst, `,"op":"c"}`...), nil
	}
	dst = append(dst, `{"before":`...)
	if dst, err = e.row.Encode(dst, row); err != nil {
		return nil, err
	}
	return append(dst, `,"after":null,"op":"d"}`...), nil
}
