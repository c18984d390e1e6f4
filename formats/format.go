package formats

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Context is what a format factory gets: the row type it reads or writes (a ROW of the fields the format
// covers) and its options with the format prefix already stripped ('json.ignore-parse-errors' or
// 'value.json.ignore-parse-errors' both arrive as 'ignore-parse-errors').
type Context struct {
	RowType types.Type
	Options map[string]string
	// Resolved holds Options validated against the factory's declarations, when the caller (Discover) has
	// done so; factories use ResolveOptions to get it either way.
	Resolved *options.Resolved
}

// ResolveOptions returns c.Resolved, or validates c.Options against f's declarations when it is nil.
func (c Context) ResolveOptions(f Factory) (*options.Resolved, error) {
	if c.Resolved != nil {
		return c.Resolved, nil
	}
	return options.Validate(f.Identifier(), c.Options, f.Options())
}

// Factory is implemented by every format.
type Factory interface {
	// Identifier is the format name: "json", "raw", "csv", "avro", ...
	Identifier() string
	// Options declares the options without the format prefix ("ignore-parse-errors").
	Options() []options.Decl
	CreateDecoder(ctx Context) (Decoder, error)
	CreateEncoder(ctx Context) (Encoder, error)
}

// Decoder turns one serialized message into values.
type Decoder interface {
	// Decode fills dst (len = number of fields of the row type) from data. It returns ok=false without error
	// when the record must be skipped (ignore-parse-errors). Errors name the field at fault.
	Decode(data []byte, dst []Value) (ok bool, err error)
}

// Encoder turns values into one serialized message.
type Encoder interface {
	// Encode appends the serialized row to dst and returns it. The result may be nil for a null message
	// (raw format with a null value).
	Encode(dst []byte, row []Value) ([]byte, error)
}

// Value is types.Value, aliased for brevity in signatures.
type Value = types.Value

// ChangelogDecoder is implemented by the decoders of changelog formats (debezium-json): one message carries
// a change, which may be several rows of different kinds (an update is -U then +U). Connectors that find it
// call DecodeChangelog instead of Decode and declare a changelog source. emit's row is only valid during the
// call. Messages to skip (ignore-parse-errors, tombstones) emit nothing and return nil.
type ChangelogDecoder interface {
	Decoder
	DecodeChangelog(data []byte, emit func(kind changelog.Kind, row []Value) error) error
}

// ChangelogEncoder is implemented by the encoders of changelog formats: they encode a row together with its
// kind. Sinks whose format has one accept every kind.
type ChangelogEncoder interface {
	Encoder
	EncodeChangelog(dst []byte, kind changelog.Kind, row []Value) ([]byte, error)
}

// Projection says which fields of a row a reader needs (projection pushdown): a field whose Need is false is
// not materialized (its value is NULL), and a ROW field with a non-nil Sub has only the members Sub needs
// materialized. A nil *Projection needs everything.
type Projection struct {
	Need []bool
	Sub  []*Projection
}

// Needs reports whether field i is needed.
func (p *Projection) Needs(i int) bool { return p == nil || i >= len(p.Need) || p.Need[i] }

// Of returns the projection of field i's members (nil: all of them).
func (p *Projection) Of(i int) *Projection {
	if p == nil || i >= len(p.Sub) {
		return nil
	}
	return p.Sub[i]
}

// Projector is implemented by decoders that can skip the fields a query does not read. Project is called
// before the first Decode; fields not needed are left NULL.
type Projector interface {
	Project(p *Projection)
}
