// Package csv is the 'csv' format: one CSV record per message, fields in the order of the row's fields, as
// Flink's csv format (Jackson CSV) reads and writes them.
//
// ARRAY columns and nested ROW columns are written as their elements joined by array-element-delimiter;
// MAP and MULTISET are not supported, as in Flink.
package csv

import (
	"fmt"
	"strconv"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Option declarations, without the format prefix.
var (
	FieldDelimiter = options.String("field-delimiter").Default(",").
			Desc("Field delimiter character; backslash escapes such as '\\t' are allowed.")
	QuoteCharacter = options.String("quote-character").Default("\"").
			Desc("Quote character for enclosing field values.")
	DisableQuoteCharacter = options.Bool("disable-quote-character").Default(false).
				Desc("Disable quoting of field values; quote-character must not be set then.")
	AllowComments = options.Bool("allow-comments").Default(false).
			Desc("Ignore records that start with '#'.")
	IgnoreParseErrors = options.Bool("ignore-parse-errors").Default(false).
				Desc("Skip records with parse errors and set fields that cannot be converted to NULL, instead of failing.")
	ArrayElementDelimiter = options.String("array-element-delimiter").Default(";").
				Desc("Separator of array and nested row elements.")
	EscapeCharacter = options.String("escape-character").
			Desc("Escape character for escaping values (disabled by default).")
	NullLiteral = options.String("null-literal").
			Desc("Null literal string that is read and written as NULL (disabled by default).")
	WriteBigDecimalScientific = options.Bool("write-bigdecimal-in-scientific-notation").Default(true).
					Desc("Write decimals in scientific notation when Java's BigDecimal.toString does (2.7E-8); false writes them plain.")
)

// Factory is the csv format factory.
type Factory struct{}

// NewFactory returns the csv format factory.
func NewFactory() *Factory { return &Factory{} }

var _ formats.Factory = (*Factory)(nil)

func (*Factory) Identifier() string { return "csv" }

func (*Factory) Options() []options.Decl {
	return options.Decls(FieldDelimiter, QuoteCharacter, DisableQuoteCharacter, AllowComments, IgnoreParseErrors,
		ArrayElementDelimiter, EscapeCharacter, NullLiteral, WriteBigDecimalScientific)
}

type config struct {
	delim        byte
	quote        byte // 0: disabled
	escape       byte // 0: none
	comments     bool
	ignoreErrors bool
	arrayDelim   string
	nullLiteral  string
	hasNull      bool
	sciDecimal   bool
}

// singleChar unescapes Java-style backslash escapes ("\t") and requires one byte.
func singleChar(r *options.Resolved, key string, s string) (byte, error) {
	u := s
	if len(s) > 1 && s[0] == '\\' {
		if q, err := strconv.Unquote(`"` + s + `"`); err == nil {
			u = q
		}
	}
	if len(u) != 1 {
		return 0, &options.Error{Keys: []string{r.Given(key)},
			Msg: fmt.Sprintf("Option '%s' must be a string with single character, but was: %s", r.Given(key), s)}
	}
	return u[0], nil
}

func (f *Factory) config(ctx formats.Context) (config, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return config{}, err
	}
	c := config{
		comments:     AllowComments.Get(r),
		ignoreErrors: IgnoreParseErrors.Get(r),
		arrayDelim:   ArrayElementDelimiter.Get(r),
		sciDecimal:   WriteBigDecimalScientific.Get(r),
	}
	c.nullLiteral, c.hasNull = NullLiteral.Lookup(r)
	if c.delim, err = singleChar(r, FieldDelimiter.Key(), FieldDelimiter.Get(r)); err != nil {
		return c, err
	}
	if DisableQuoteCharacter.Get(r) {
		if QuoteCharacter.Has(r) {
			return c, &options.Error{Keys: []string{r.Given(QuoteCharacter.Key())},
				Msg: "Format cannot define a quote character and disabled quote character at the same time."}
		}
	} else if c.quote, err = singleChar(r, QuoteCharacter.Key(), QuoteCharacter.Get(r)); err != nil {
		return c, err
	}
	if e, ok := EscapeCharacter.Lookup(r); ok {
		if c.escape, err = singleChar(r, EscapeCharacter.Key(), e); err != nil {
			return c, err
		}
	}
	if c.arrayDelim == "" {
		return c, &options.Error{Keys: []string{r.Given(ArrayElementDelimiter.Key())},
			Msg: fmt.Sprintf("Option '%s' must not be empty.", r.Given(ArrayElementDelimiter.Key()))}
	}
	rt := ctx.RowType
	if rt.Kind != types.Row {
		return c, &options.Error{Msg: fmt.Sprintf("the csv format needs a ROW type, got %s", rt)}
	}
	for _, fl := range rt.Fields {
		if err := checkType(fl.Type, fl.Name, 0); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkType rejects what Flink's csv format rejects: MAP, MULTISET, TIME with precision above 3, and
// nesting beyond one level of ARRAY or ROW.
func checkType(t types.Type, name string, depth int) error {
	switch t.Kind {
	case types.Map, types.Multiset, types.Invalid, types.Null:
		return &options.Error{Msg: fmt.Sprintf("The csv format does not support type %s (column '%s').", t, name)}
	case types.Time:
		if t.Precision > 3 {
			return &options.Error{Msg: fmt.Sprintf("Csv does not support TIME type with precision: %d, it only supports precision 0 ~ 3 (column '%s').", t.Precision, name)}
		}
	case types.Array, types.Row:
		if depth > 0 {
			return &options.Error{Msg: fmt.Sprintf("The csv format does not support nested type %s (column '%s'): arrays and rows can hold scalar values only.", t, name)}
		}
		if t.Kind == types.Array {
			return checkType(*t.Elem, name, depth+1)
		}
		for _, f := range t.Fields {
			if err := checkType(f.Type, name, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Factory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	c, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return &Decoder{cfg: c, row: ctx.RowType}, nil
}

func (f *Factory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	c, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	return &Encoder{cfg: c, row: ctx.RowType}, nil
}
