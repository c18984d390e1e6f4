package avroconfluent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/formats/avro"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Option declarations, without the format prefix. Flink 1.12 spellings are deprecated aliases.
var (
	URL = options.String("url").Required().Deprecated("schema-registry.url").
		Desc("The URL of the Confluent Schema Registry.")
	Subject = options.String("subject").Deprecated("schema-registry.subject").
		Desc("The subject the table's schema is registered under when writing. Default: '<topic>-value', or '<topic>-key' for the key format.")
	Schema = options.String("schema").
		Desc("The Avro schema to register and to read with, instead of the one derived from the table; it must match the table.")
	CredentialsSource = options.Enum("basic-auth.credentials-source", "USER_INFO", "URL").
				Desc("Where the basic auth credentials come from: USER_INFO ('basic-auth.user-info') or URL ('http://user:password@host').")
	UserInfo = options.String("basic-auth.user-info").
			Desc("Basic auth credentials, 'user:password'.")
	BearerSource = options.Enum("bearer-auth.credentials-source", "STATIC_TOKEN").
			Desc("Where the bearer token comes from: STATIC_TOKEN ('bearer-auth.token').")
	BearerToken = options.String("bearer-auth.token").
			Desc("Bearer token sent to the registry.")
	KeystoreLocation = options.String("ssl.keystore.location").
				Desc("PEM file holding the client certificate and its key, for mutual TLS with the registry.")
	KeystorePassword = options.String("ssl.keystore.password").
				Desc("Accepted for compatibility; PEM keys must be unencrypted.")
	TruststoreLocation = options.String("ssl.truststore.location").
				Desc("PEM file of CA certificates trusted for the registry's TLS certificate.")
	TruststorePassword = options.String("ssl.truststore.password").
				Desc("Accepted for compatibility; PEM truststores have no password.")
	Properties = options.Map("properties.").
			Desc("Properties of the registry client; accepted for compatibility with Flink and not used.")
	IgnoreParseErrors = options.Bool("ignore-parse-errors").Default(false).
				Desc("Skip records that cannot be decoded (bad magic byte, unknown schema id, incompatible or corrupt data) instead of failing.")
	// TopicKey and IsKeyKey are set by the connector, not by users (see the package doc).
	TopicKey = options.String(TopicOption).
			Desc("Set by the kafka connectors: the topic, for the default subject.")
	IsKeyKey = options.Bool(IsKeyOption).Default(false).
			Desc("Set by the kafka connectors: true for the key format, for the default subject.")
)

// The options a connector passes so that the default subject can be derived (see the package doc).
const (
	TopicOption = "__topic"
	IsKeyOption = "__is-key"
)

// Factory is the avro-confluent format factory.
type Factory struct{}

// NewFactory returns the avro-confluent format factory.
func NewFactory() *Factory { return &Factory{} }

var _ formats.Factory = (*Factory)(nil)

func (*Factory) Identifier() string { return "avro-confluent" }

func (*Factory) Options() []options.Decl {
	return options.Decls(URL, Subject, Schema, CredentialsSource, UserInfo, BearerSource, BearerToken,
		KeystoreLocation, KeystorePassword, TruststoreLocation, TruststorePassword, Properties, IgnoreParseErrors,
		TopicKey, IsKeyKey)
}

type config struct {
	reg          registryConfig
	subject      string // "" when unknown
	schemaText   string // the writer/reader schema: explicit or derived
	schema       hamba.Schema
	explicit     bool
	ignoreErrors bool
}

func (f *Factory) config(ctx formats.Context) (*config, error) {
	r, err := ctx.ResolveOptions(f)
	if err != nil {
		return nil, err
	}
	c := &config{ignoreErrors: IgnoreParseErrors.Get(r)}
	c.reg.url = URL.Get(r)
	if !strings.HasPrefix(c.reg.url, "http://") && !strings.HasPrefix(c.reg.url, "https://") {
		return nil, &options.Error{Keys: []string{r.Given(URL.Key())}, Msg: fmt.Sprintf("Invalid value for option '%s': '%s' is not an http:// or https:// URL", r.Given(URL.Key()), c.reg.url)}
	}
	if CredentialsSource.Get(r) == "USER_INFO" || (r.Has(UserInfo.Key()) && !r.Has(CredentialsSource.Key())) {
		u, p, ok := strings.Cut(UserInfo.Get(r), ":")
		if !ok {
			return nil, &options.Error{Keys: []string{r.Given(UserInfo.Key())}, Msg: fmt.Sprintf("Invalid value for option '%s': want 'user:password'", r.Given(UserInfo.Key()))}
		}
		c.reg.user, c.reg.pass = u, p
	}
	if CredentialsSource.Get(r) == "URL" {
		if at := strings.Index(c.reg.url, "@"); at > 0 {
			scheme, rest, _ := strings.Cut(c.reg.url, "://")
			info := rest[:strings.Index(rest, "@")]
			c.reg.user, c.reg.pass, _ = strings.Cut(info, ":")
			c.reg.url = scheme + "://" + rest[strings.Index(rest, "@")+1:]
		}
	}
	c.reg.bearer = BearerToken.Get(r)
	c.reg.truststore = TruststoreLocation.Get(r)
	c.reg.keystore = KeystoreLocation.Get(r)

	c.subject = Subject.Get(r)
	if c.subject == "" && TopicKey.Get(r) != "" {
		if IsKeyKey.Get(r) {
			c.subject = TopicKey.Get(r) + "-key"
		} else {
			c.subject = TopicKey.Get(r) + "-value"
		}
	}

	if ctx.RowType.Kind != types.Row {
		return nil, &options.Error{Msg: fmt.Sprintf("the avro-confluent format needs a ROW type, got %s", ctx.RowType)}
	}
	if s := Schema.Get(r); s != "" {
		c.schemaText, c.explicit = s, true
	} else if c.schemaText, err = avro.DeriveSchema(ctx.RowType, avro.DeriveOptions{}); err != nil {
		return nil, err
	}
	if c.schema, err = avro.ParseSchema(c.schemaText); err != nil {
		return nil, &options.Error{Keys: []string{r.Given(Schema.Key())}, Msg: fmt.Sprintf("Invalid value for option '%s': %v", r.Given(Schema.Key()), err)}
	}
	return c, nil
}

func (f *Factory) CreateDecoder(ctx formats.Context) (formats.Decoder, error) {
	c, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	// The table must be readable with its own schema; catches an explicit schema that does not match.
	if _, err := avro.NewDecodePlan(c.schema, ctx.RowType, c.schema); err != nil {
		return nil, &options.Error{Msg: fmt.Sprintf("the table cannot be read with the schema: %v", err)}
	}
	cl, err := newClient(c.reg)
	if err != nil {
		return nil, &options.Error{Msg: err.Error()}
	}
	d := &Decoder{cfg: c, client: cl, rowType: ctx.RowType, nfields: len(ctx.RowType.Fields), plans: map[int]*planEntry{}}
	if c.explicit {
		d.readerSchema = c.schema
	}
	return d, nil
}

func (f *Factory) CreateEncoder(ctx formats.Context) (formats.Encoder, error) {
	c, err := f.config(ctx)
	if err != nil {
		return nil, err
	}
	if c.subject == "" {
		return nil, &options.Error{Keys: []string{"subject"}, Msg: "the avro-confluent format needs a subject to write: set 'avro-confluent.subject' (or the 1.12 spelling 'avro-confluent.schema-registry.subject')"}
	}
	plan, err := avro.NewEncodePlan(ctx.RowType, c.schema)
	if err != nil {
		return nil, &options.Error{Msg: fmt.Sprintf("the table cannot be written with the schema: %v", err)}
	}
	cl, err := newClient(c.reg)
	if err != nil {
		return nil, &options.Error{Msg: err.Error()}
	}
	return &Encoder{cfg: c, client: cl, plan: plan}, nil
}

// Decoder reads Confluent-framed Avro messages: magic byte 0, a 4-byte big-endian schema id, the Avro body.
// The writer schema of each id is fetched once and resolved against the table's row type; the resulting
// plan is cached by id. Safe for concurrent use.
type Decoder struct {
	cfg          *config
	client       *client
	rowType      types.Type
	nfields      int
	readerSchema hamba.Schema
	proj         *formats.Projection // the fields the query reads (Project; nil: all)

	last  atomic.Pointer[planEntry] // the plan of the last id seen: the common case is one id
	mu    sync.Mutex
	plans map[int]*planEntry
}

type planEntry struct {
	id   int
	plan *avro.DecodePlan
	err  error // the writer schema cannot be resolved against the table (a data error, cached)
}

var _ formats.Decoder = (*Decoder)(nil)

func (d *Decoder) subjectNote() string {
	if d.cfg.subject == "" {
		return ""
	}
	return fmt.Sprintf(" (subject '%s')", d.cfg.subject)
}

func (d *Decoder) dataErr(field, msg string) (bool, error) {
	if d.cfg.ignoreErrors {
		return false, nil
	}
	return false, &formats.RecordError{Field: field, Err: formats.ErrDecode, Msg: msg}
}

func (d *Decoder) Decode(data []byte, dst []types.Value) (bool, error) {
	e, id, ok, err := d.header(data)
	if e == nil {
		return ok, err
	}
	body := data[5:]
	n, err := e.plan.Decode(body, dst[:d.nfields])
	return d.result(id, n, len(body), err)
}

// header reads the Confluent framing of a message and returns the plan of its schema id; when it returns no
// plan, ok and err are Decode's result.
func (d *Decoder) header(data []byte) (e *planEntry, id int, ok bool, err error) {
	if len(data) < 5 || data[0] != 0 {
		var msg string
		switch {
		case len(data) == 0:
			msg = "failed to deserialize Avro record: empty message, not in the Confluent wire format (magic byte 0, 4-byte schema id)" + d.subjectNote()
		case data[0] != 0:
			msg = fmt.Sprintf("failed to deserialize Avro record: unknown magic byte 0x%02x (want 0): the message is not in the Confluent wire format%s", data[0], d.subjectNote())
		default:
			msg = fmt.Sprintf("failed to deserialize Avro record: %d bytes is too short for the Confluent wire format header%s", len(data), d.subjectNote())
		}
		ok, err = d.dataErr("", msg)
		return nil, 0, ok, err
	}
	id = int(int32(binary.BigEndian.Uint32(data[1:5])))
	e = d.last.Load()
	if e == nil || e.id != id {
		if e, err = d.planFor(id); err != nil {
			if errors.Is(err, errUnknownID) {
				ok, err = d.dataErr("", fmt.Sprintf("failed to deserialize Avro record: %v%s", err, d.subjectNote()))
				return nil, id, ok, err
			}
			return nil, id, false, fmt.Errorf("failed to deserialize Avro record%s: %w", d.subjectNote(), err)
		}
	}
	if e.err != nil {
		ok, err = d.dataErr(fieldOf(e.err), fmt.Sprintf("failed to deserialize Avro record: the writer schema id %d%s is incompatible with the table: %v", id, d.subjectNote(), e.err))
		return nil, id, ok, err
	}
	return e, id, false, nil
}

// result is Decode's result for a body of size bytes of which the plan read n, with its error.
func (d *Decoder) result(id, n, size int, err error) (bool, error) {
	if err != nil {
		return d.dataErr(fieldOf(err), fmt.Sprintf("failed to deserialize Avro record with writer schema id %d%s: %v", id, d.subjectNote(), err))
	}
	if n != size {
		return d.dataErr("", fmt.Sprintf("failed to deserialize Avro record with writer schema id %d%s: %d bytes left after the record", id, d.subjectNote(), size-n))
	}
	return true, nil
}

func fieldOf(err error) string {
	var de *avro.DecodeError
	if errors.As(err, &de) {
		return de.Field
	}
	return ""
}

// planFor returns the cached plan of a schema id, fetching and resolving the writer schema the first time.
// Registry failures are not cached: the next record tries again.
func (d *Decoder) planFor(id int) (*planEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.plans[id]; ok {
		d.last.Store(e)
		return e, nil
	}
	text, err := d.client.schemaByID(context.Background(), id)
	if err != nil {
		return nil, err
	}
	e := &planEntry{id: id}
	w, err := avro.ParseSchema(text)
	if err != nil {
		e.err = fmt.Errorf("the registry's schema does not parse: %v", err)
	} else {
		e.plan, e.err = avro.NewDecodePlan(w, d.rowType, d.readerSchema)
		if e.err == nil {
			e.plan = e.plan.Project(d.proj)
		}
	}
	d.plans[id] = e
	d.last.Store(e)
	return e, nil
}

// Encoder writes rows in the Confluent wire format. The first Encode registers the schema under the subject
// (the registry answers with the existing id when it has it); until that succeeds, Encode fails and writes
// nothing. Safe for concurrent use.
type Encoder struct {
	cfg    *config
	client *client
	plan   *avro.EncodePlan

	id atomic.Int64 // 0 until registered
	mu sync.Mutex
}

var _ formats.Encoder = (*Encoder)(nil)

// SchemaID registers the schema if needed and returns its id.
func (e *Encoder) SchemaID() (int, error) {
	if id := e.id.Load(); id != 0 {
		return int(id), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if id := e.id.Load(); id != 0 {
		return int(id), nil
	}
	id, err := e.client.register(context.Background(), e.cfg.subject, e.cfg.schemaText)
	if err != nil {
		return 0, err
	}
	e.id.Store(int64(id))
	return id, nil
}

func (e *Encoder) Encode(dst []byte, row []types.Value) ([]byte, error) {
	id, err := e.SchemaID()
	if err != nil {
		return dst, fmt.Errorf("failed to serialize Avro record: %w", err)
	}
	start := len(dst)
	out := append(dst, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(id))
	out, err = e.plan.Append(out, row)
	if err != nil {
		return dst[:start], avro.RecordError(err, true, fmt.Sprintf("failed to serialize Avro record for subject '%s'", e.cfg.subject))
	}
	return out, nil
}
