package json

import (
	"fmt"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Option declarations, without the format prefix.
var (
	FailOnMissingField = options.Bool("fail-on-missing-field").Default(false).
				Desc("Fail when a field of the row is missing from the JSON object (else it is NULL).")
	IgnoreParseErrors = options.Bool("ignore-parse-errors").Default(false).
				Desc("Skip records that are not valid JSON and set fields that cannot be converted to NULL, instead of failing.")
	TimestampFormat = options.Enum("timestamp-format.standard", "SQL", "ISO-8601").Default("SQL").
			Desc("Timestamp layout: SQL is '2020-12-30 12:13:14.123', ISO-8601 is '2020-12-30T12:13:14.123'; TIMESTAMP_LTZ values end in 'Z'.")
	MapNullKeyMode = options.Enum("map-null-key.mode", "FAIL", "DROP", "LITERAL").Default("FAIL").
			Desc("What to do with a NULL map key when encoding: fail, drop the entry, or write map-null-key.literal.")
	MapNullKeyLiteral = options.String("map-null-key.literal").Default("null").
				Desc("The key written for NULL map keys when map-null-key.mode is LITERAL.")
	DecimalAsPlainNumber = options.Bool("encode.decimal-as-plain-number").Default(false).
				Desc("Write decimals as plain numbers (0.000000027) rather than in scientific notation (2.7E-8).")
	IgnoreNullFields = options.Bool("encode.ignore-null-fields").Default(false).
				Desc("Leave NULL fields out of the encoded object.")
)

// Factory is the json format factory.
type Factory struct{}

// NewFactory returns the json format factory.
func NewFactory() *Factory { return &Factory{} }

var _ formats.Factory = (*Factory)(nil)

func (*Factory) Identifier() string { return "json" }

func (*Factory) Options() []options.Decl {
	return options.Decls(FailOnMissingField, IgnoreParseErrors, TimestampFormat, MapNullKeyMode, MapNullKeyLiteral,
		DecimalAsPlainNumber, IgnoreNullFields)
}

type config struct {
	failOnMissing bool
	ignoreErrors  bool
	iso           bool
	nullKeyMode   string
	nullKeyLit    string
	plainDecimal  bool
	ignoreNulls   bool
}

func (f *Factory) config(ctx formats.Context) (config, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return config{}, err
	}
	c := config{
		failOnMissing: FailOnMissingField.Get(r),
		ignoreErrors:  IgnoreParseErrors.Get(r),
		iso:           TimestampFormat.Get(r) == "ISO-8601",
		nullKeyMode:   MapNullKeyMode.Get(r),
		nullKeyLit:    MapNullKeyLiteral.Get(r),
		plainDecimal:  DecimalAsPlainNumber.Get(r),
		ignoreNulls:   IgnoreNullFields.Get(r),
	}
	if c.failOnMissing && c.ignoreErrors {
		return config{}, &options.Error{Keys: []string{r.Given(FailOnMissingField.Key()), r.Given(IgnoreParseErrors.Key())},
			Msg: fmt.Sprintf("%s and %s shouldn't both be true.", r.Given(FailOnMissingField.Key()), r.Given(IgnoreParseErrors.Key()))}
	}
	if ctx.RowType.Kind != types.Row {
		return config{}, &options.Error{Msg: fmt.Sprintf("the json format needs a ROW type, got %s", ctx.RowType)}
	}
	if err := checkType(ctx.RowType, ""); err != nil {
		return config{}, err
	}
	return c, nil
}

// checkType rejects types the json format cannot represent.
func checkType(t types.Type, path string) error {
	switch t.Kind {
	case types.Row:
		for _, f := range t.Fields {
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if err := checkType(f.Type, p); err != nil {
				return err
			}
		}
	case types.Array, types.Multiset:
		if t.Kind == types.Multiset && !t.Elem.IsString() {
			return &options.Error{Msg: fmt.Sprintf("JSON format doesn't support non-string as key type of map. The type is: %s (field '%s')", t, path)}
		}
		return checkType(*t.Elem, path)
	case types.Map:
		if !t.Key.IsString() {
			return &options.Error{Msg: fmt.Sprintf("JSON format doesn't support non-string as key type of map. The type is: %s (field '%s')", t, path)}
		}
		return checkType(*t.Elem, path)
	case types.Invalid:
		return &options.Error{Msg: fmt.Sprintf("JSON format doesn't support type %s (field '%s')", t, path)}
	}
	return nil
}

func (f *Factory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	c, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return NewDecoder(ctx.RowType, c), nil
}

func (f *Factory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	c, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return newEncoder(ctx.RowType, c), nil
}
