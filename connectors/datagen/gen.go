package datagen

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// genCtx is the per-run state generators share: the random source, the clock reading of the current batch
// and a scratch buffer.
type genCtx struct {
	rng   *rand.Rand
	nowMs int64
	loc   *time.Location
	buf   []byte
}

// gen produces the value of one field for row number row (0-based); skip draws the random numbers next
// would draw without building the value (projection pushdown: project.go).
type gen interface {
	next(c *genCtx, row int64) types.Value
	skip(c *genCtx, row int64)
}

// builder turns the validated options into generators, checking each option against the field it names.
type builder struct {
	r          *options.Resolved
	table      *catalog.Table
	paths      map[string]types.Type
	used       map[string]bool     // concrete option keys consumed by a generator
	applicable map[string][]string // path → option keys that apply to it
}

// collectPaths records the option paths of a column: nested row fields, array/multiset elements, map keys
// and values.
func collectPaths(paths map[string]types.Type, path string, t types.Type) {
	paths[path] = t
	switch t.Kind {
	case types.Row:
		for _, f := range t.Fields {
			collectPaths(paths, path+"."+f.Name, f.Type)
		}
	case types.Array, types.Multiset:
		collectPaths(paths, path+".element", *t.Elem)
	case types.Map:
		collectPaths(paths, path+".key", *t.Key)
		collectPaths(paths, path+".value", *t.Elem)
	}
}

// checkPaths reports options naming fields the table does not have.
func (b *builder) checkPaths(cols []catalog.Column) error {
	b.paths = map[string]types.Type{}
	b.applicable = map[string][]string{}
	var names []string
	for _, c := range cols {
		collectPaths(b.paths, c.Name, c.Type)
		names = append(names, c.Name)
	}
	for _, k := range b.r.Keys() {
		decl, segs, _ := b.r.Match(k)
		if !strings.HasPrefix(decl, "fields.#.") || len(segs) == 0 {
			continue
		}
		if _, ok := b.paths[segs[0]]; !ok {
			return &options.Error{Keys: []string{b.r.Given(k)}, Msg: fmt.Sprintf(
				"Option '%s' refers to field '%s', which table '%s' does not have. Its physical columns are: %s.",
				b.r.Given(k), segs[0], b.table.Name, strings.Join(names, ", "))}
		}
	}
	return nil
}

// get reads a per-field option, recording that it applies to the field.
func get[T any](b *builder, k options.Key[T], path string) (T, bool) {
	kk := k.At(path)
	if !slices.Contains(b.applicable[path], kk.Key()) {
		b.applicable[path] = append(b.applicable[path], kk.Key())
	}
	v, ok := kk.Lookup(b.r)
	if ok {
		b.used[kk.Key()] = true
	}
	return v, ok
}

// checkUnused reports per-field options that no generator used: they do not apply to the field's type or
// generator kind.
func (b *builder) checkUnused() error {
	for _, k := range b.r.Keys() {
		decl, segs, _ := b.r.Match(k)
		if !strings.HasPrefix(decl, "fields.#.") || b.used[k] {
			continue
		}
		path := segs[0]
		t := b.paths[path]
		kind := FieldKind.At(path).Get(b.r)
		app := append([]string(nil), b.applicable[path]...)
		sort.Strings(app)
		return &options.Error{Keys: []string{b.r.Given(k)}, Msg: fmt.Sprintf(
			"Option '%s' does not apply to field '%s' of type %s with kind '%s'. Options that apply: %s.",
			b.r.Given(k), path, t, kind, strings.Join(app, ", "))}
	}
	return nil
}

func (b *builder) errf(key string, format string, args ...any) error {
	return &options.Error{Keys: []string{b.r.Given(key)}, Msg: fmt.Sprintf(format, args...)}
}

// column builds the generator of a top-level column; seqLen is the sequence length (-1: unbounded).
func (b *builder) column(c catalog.Column) (gen, int64, error) {
	kind, _ := get(b, FieldKind, c.Name)
	if kind == "sequence" {
		return b.sequence(c.Name, c.Type)
	}
	g, err := b.random(c.Name, c.Type)
	return g, -1, err
}

// ---- sequences ----

type seqGen struct {
	start int64
	t     types.Type
	pow   int64 // DECIMAL: 10^scale
}

func (g *seqGen) next(c *genCtx, row int64) types.Value {
	n := g.start + row
	switch g.t.Kind {
	case types.Float:
		return types.FloatValue(float64(float32(n)))
	case types.Double:
		return types.FloatValue(float64(n))
	case types.Decimal:
		if g.pow > 0 {
			return types.DecimalValue(n*g.pow, g.t.Scale)
		}
		u := new(big.Int).Mul(big.NewInt(n), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(g.t.Scale)), nil))
		return types.BigDecimalValue(u, g.t.Scale)
	case types.Char, types.VarChar:
		c.buf = strconv.AppendInt(c.buf[:0], n, 10)
		return types.StringValue(string(c.buf))
	case types.Binary, types.VarBinary:
		var b [8]byte
		for i := 7; i >= 0; i-- {
			b[i] = byte(n)
			n >>= 8
		}
		return types.BytesValue(b[:])
	}
	return types.IntValue(n)
}

func (b *builder) sequence(path string, t types.Type) (gen, int64, error) {
	startKey, endKey := FieldStart.At(path).Key(), FieldEnd.At(path).Key()
	switch t.Kind {
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Float, types.Double, types.Decimal,
		types.Char, types.VarChar, types.Binary, types.VarBinary:
	default:
		return nil, 0, b.errf(FieldKind.At(path).Key(),
			"Field '%s' of type %s cannot be generated by a sequence ('%s' = 'sequence'); sequences support TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL, CHAR, VARCHAR, STRING, BINARY, VARBINARY and BYTES.",
			path, t, b.r.Given(FieldKind.At(path).Key()))
	}
	start, ok1 := get(b, FieldStart, path)
	end, ok2 := get(b, FieldEnd, path)
	if !ok1 {
		return nil, 0, b.errf(startKey, "Could not find required property '%s' for sequence generator.", startKey)
	}
	if !ok2 {
		return nil, 0, b.errf(endKey, "Could not find required property '%s' for sequence generator.", endKey)
	}
	if start > end {
		return nil, 0, b.errf(startKey, "Option '%s' (%d) must not be greater than '%s' (%d).", b.r.Given(startKey), start, b.r.Given(endKey), end)
	}
	g := &seqGen{start: start, t: t}
	switch t.Kind {
	case types.TinyInt, types.SmallInt, types.Int:
		lo, hi := intRange(t.Kind)
		for _, kv := range []struct {
			k string
			v int64
		}{{startKey, start}, {endKey, end}} {
			if kv.v < lo || kv.v > hi {
				return nil, 0, b.errf(kv.k, "Invalid value for option '%s': %d is out of range for %s", b.r.Given(kv.k), kv.v, t.WithNullable(true))
			}
		}
	case types.Decimal:
		limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Precision-t.Scale)), nil)
		for _, kv := range []struct {
			k string
			v int64
		}{{startKey, start}, {endKey, end}} {
			if new(big.Int).Abs(big.NewInt(kv.v)).Cmp(limit) >= 0 {
				return nil, 0, b.errf(kv.k, "Invalid value for option '%s': %d does not fit %s", b.r.Given(kv.k), kv.v, t.WithNullable(true))
			}
		}
		if t.Scale <= 18 {
			p := int64(1)
			for i := 0; i < t.Scale; i++ {
				p *= 10
			}
			if max(abs(start), abs(end)) <= math.MaxInt64/p {
				g.pow = p
			}
		}
	case types.Char, types.VarChar:
		if t.Length != types.MaxLength {
			for _, kv := range []struct {
				k string
				v int64
			}{{startKey, start}, {endKey, end}} {
				if n := len(strconv.FormatInt(kv.v, 10)); n > t.Length {
					return nil, 0, b.errf(kv.k, "Invalid value for option '%s': %d has %d characters, more than %s holds", b.r.Given(kv.k), kv.v, n, t.WithNullable(true))
				}
			}
		}
	}
	n := uint64(end-start) + 1
	if n == 0 || n > math.MaxInt64 {
		n = math.MaxInt64
	}
	return g, int64(n), nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func intRange(k types.Kind) (int64, int64) {
	switch k {
	case types.TinyInt:
		return math.MinInt8, math.MaxInt8
	case types.SmallInt:
		return math.MinInt16, math.MaxInt16
	case types.Int:
		return math.MinInt32, math.MaxInt32
	case types.IntervalYearMonth:
		return 0, 120000
	}
	return math.MinInt64, math.MaxInt64
}

// ---- random ----

// nullable wraps a generator with a null rate.
type nullable struct {
	rate float32
	g    gen
}

func (n *nullable) next(c *genCtx, row int64) types.Value {
	if c.rng.Float32() <= n.rate {
		return types.NullValue
	}
	return n.g.next(c, row)
}

type constNull struct{}

func (constNull) next(*genCtx, int64) types.Value { return types.NullValue }

type boolGen struct{}

func (boolGen) next(c *genCtx, _ int64) types.Value { return types.BoolValue(c.rng.Uint64()&1 == 1) }

type intGen struct{ lo, hi int64 }

func (g *intGen) next(c *genCtx, _ int64) types.Value {
	return types.IntValue(randInt(c.rng, g.lo, g.hi))
}

func randInt(rng *rand.Rand, lo, hi int64) int64 {
	span := uint64(hi) - uint64(lo)
	if span == math.MaxUint64 {
		return int64(rng.Uint64())
	}
	return int64(uint64(lo) + rng.Uint64N(span+1))
}

type floatGen struct {
	lo, hi float64
	f32    bool
}

func (g *floatGen) next(c *genCtx, _ int64) types.Value {
	u := c.rng.Float64()
	f := u*g.hi + (1-u)*g.lo // as commons-math nextUniform
	if g.f32 {
		f = float64(float32(f))
	}
	return types.FloatValue(f)
}

type decimalGen struct {
	scale  int
	lo, hi int64    // unscaled bounds when small
	blo    *big.Int // unscaled bounds when big
	bspan  *big.Int // bhi - blo + 1
}

func (g *decimalGen) next(c *genCtx, _ int64) types.Value {
	if g.blo == nil {
		return types.DecimalValue(randInt(c.rng, g.lo, g.hi), g.scale)
	}
	// Uniform below bspan by rejection over random bits.
	n := g.bspan.BitLen()
	words := make([]big.Word, (n+63)/64)
	v := new(big.Int)
	for {
		for i := range words {
			words[i] = big.Word(c.rng.Uint64())
		}
		v.SetBits(words)
		if extra := len(words)*64 - n; extra > 0 {
			v.Rsh(v, uint(extra))
		}
		if v.Cmp(g.bspan) < 0 {
			break
		}
	}
	return types.BigDecimalValue(v.Add(v, g.blo), g.scale)
}

const hexDigits = "0123456789abcdef"

type stringGen struct {
	length int
	varLen bool
	bytes  bool
}

func (g *stringGen) next(c *genCtx, _ int64) types.Value {
	n := g.length
	if g.varLen && n > 1 {
		n = 1 + c.rng.IntN(n)
	}
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	b := c.buf[:n]
	for i := 0; i < n; i += 16 {
		x := c.rng.Uint64()
		for j := i; j < n && j < i+16; j++ {
			if g.bytes {
				b[j] = byte(x)
				x >>= 8
				if (j-i)%8 == 7 {
					x = c.rng.Uint64()
				}
			} else {
				b[j] = hexDigits[x&0xF]
				x >>= 4
			}
		}
	}
	if g.bytes {
		return types.BytesValue(b)
	}
	return types.StringValue(string(b))
}

// timeGen generates now minus a random duration below maxPast, as a TIMESTAMP (UTC wall clock, as Flink's
// datagen), TIMESTAMP_LTZ, DATE or TIME (in the session time zone).
type timeGen struct {
	t       types.Type
	maxPast int64 // milliseconds
}

func (g *timeGen) next(c *genCtx, _ int64) types.Value {
	ms := c.nowMs
	if g.maxPast > 0 {
		ms -= c.rng.Int64N(g.maxPast)
	}
	switch g.t.Kind {
	case types.Date:
		y, m, d := time.UnixMilli(ms).In(c.loc).Date()
		return types.DateValue(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	case types.Time:
		t := time.UnixMilli(ms).In(c.loc)
		nanos := int64(t.Hour()*3600+t.Minute()*60+t.Second())*1e9 + int64(t.Nanosecond())
		return types.TimeValue(truncNanos(nanos, g.t.Precision))
	}
	if g.t.Precision < 3 {
		p := int64(1)
		for i := g.t.Precision; i < 3; i++ {
			p *= 10
		}
		ms -= ((ms % 1000) + 1000) % 1000 % p
	}
	return types.TimestampValue(ms, 0)
}

func truncNanos(nanos int64, precision int) int64 {
	div := int64(1)
	for i := precision; i < 9; i++ {
		div *= 10
	}
	return nanos - nanos%div
}

type arrayGen struct {
	elem     gen
	length   int
	multiset bool
}

func (g *arrayGen) next(c *genCtx, row int64) types.Value {
	if !g.multiset {
		out := make([]types.Value, g.length)
		for i := range out {
			out[i] = g.elem.next(c, row)
		}
		return types.ArrayValue(out)
	}
	// A multiset as Flink generates it: length distinct elements, each 0 to 10 times.
	var out []types.Value
	var seen []types.Value
	for i := 0; i < g.length; i++ {
		el := g.elem.next(c, row)
		if contains(seen, el) {
			continue
		}
		seen = append(seen, el)
		for n := c.rng.IntN(11); n > 0; n-- {
			out = append(out, el)
		}
	}
	if out == nil {
		out = []types.Value{}
	}
	return types.ArrayValue(out)
}

func contains(vs []types.Value, v types.Value) bool {
	for _, x := range vs {
		if x.T == v.T && x.I == v.I && x.N == v.N && x.S == v.S && x.X == nil && v.X == nil {
			return true
		}
	}
	return false
}

type mapGen struct {
	key, val gen
	length   int
}

func (g *mapGen) next(c *genCtx, row int64) types.Value {
	m := &types.MapValue{Keys: make([]types.Value, 0, g.length), Vals: make([]types.Value, 0, g.length)}
	for i := 0; i < g.length; i++ {
		k := g.key.next(c, row)
		v := g.val.next(c, row)
		if contains(m.Keys, k) {
			continue // a map holds each key once (Flink fills a HashMap)
		}
		m.Keys = append(m.Keys, k)
		m.Vals = append(m.Vals, v)
	}
	return types.MapOf(m)
}

type rowGen struct{ fields []gen }

func (g *rowGen) next(c *genCtx, row int64) types.Value {
	out := make([]types.Value, len(g.fields))
	for i, f := range g.fields {
		out[i] = f.next(c, row)
	}
	return types.RowValue(out)
}

// random builds the random generator of the field at path.
func (b *builder) random(path string, t types.Type) (gen, error) {
	if kind, given := get(b, FieldKind, path); given && kind == "sequence" && strings.Contains(path, ".") {
		return nil, b.errf(FieldKind.At(path).Key(), "Field '%s' is nested: sequences are only supported for top-level columns.", path)
	}
	rate, _ := get(b, FieldNullRate, path)
	rateKey := FieldNullRate.At(path).Key()
	if rate < 0 || rate > 1 {
		return nil, b.errf(rateKey, "Invalid value for option '%s': %v is not between 0 and 1", b.r.Given(rateKey), rate)
	}
	if rate > 0 && t.NotNull {
		return nil, b.errf(rateKey, "Option '%s' is %v, but field '%s' is NOT NULL.", b.r.Given(rateKey), rate, path)
	}
	g, err := b.randomValue(path, t)
	if err != nil || rate == 0 {
		return g, err
	}
	return &nullable{rate: float32(rate), g: g}, nil
}

func (b *builder) randomValue(path string, t types.Type) (gen, error) {
	switch t.Kind {
	case types.Null:
		return constNull{}, nil
	case types.Boolean:
		return boolGen{}, nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalYearMonth, types.IntervalDayTime:
		lo, hi := intRange(t.Kind)
		var err error
		if lo, err = b.intBound(FieldMin, path, t, lo); err != nil {
			return nil, err
		}
		if hi, err = b.intBound(FieldMax, path, t, hi); err != nil {
			return nil, err
		}
		if lo > hi {
			return nil, b.minMaxErr(path, lo, hi)
		}
		return &intGen{lo: lo, hi: hi}, nil
	case types.Float, types.Double:
		lo, hi := math.SmallestNonzeroFloat64, math.MaxFloat64
		if t.Kind == types.Float {
			lo, hi = math.SmallestNonzeroFloat32, math.MaxFloat32
		}
		var err error
		if lo, err = b.floatBound(FieldMin, path, lo); err != nil {
			return nil, err
		}
		if hi, err = b.floatBound(FieldMax, path, hi); err != nil {
			return nil, err
		}
		if lo > hi {
			return nil, b.minMaxErr(path, lo, hi)
		}
		return &floatGen{lo: lo, hi: hi, f32: t.Kind == types.Float}, nil
	case types.Decimal:
		return b.decimal(path, t)
	case types.Char, types.Binary:
		return &stringGen{length: t.Length, bytes: t.Kind == types.Binary}, nil
	case types.VarChar, types.VarBinary:
		length := 100
		if t.Length != types.MaxLength {
			length = t.Length
		}
		if n, ok := get(b, FieldLength, path); ok {
			key := FieldLength.At(path).Key()
			if n < 1 {
				return nil, b.errf(key, "Invalid value for option '%s': %d must be positive", b.r.Given(key), n)
			}
			if n > t.Length {
				return nil, b.errf(key, "Invalid value for option '%s': %d is longer than %s allows", b.r.Given(key), n, t.WithNullable(true))
			}
			length = n
		}
		varLen, _ := get(b, FieldVarLen, path)
		return &stringGen{length: length, varLen: varLen, bytes: t.Kind == types.VarBinary}, nil
	case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		past, _ := get(b, FieldMaxPast, path)
		if past < 0 {
			key := FieldMaxPast.At(path).Key()
			return nil, b.errf(key, "Invalid value for option '%s': must not be negative", b.r.Given(key))
		}
		return &timeGen{t: t, maxPast: past.Milliseconds()}, nil
	case types.Array, types.Multiset:
		n, err := b.collectionLength(path)
		if err != nil {
			return nil, err
		}
		el, err := b.random(path+".element", *t.Elem)
		if err != nil {
			return nil, err
		}
		return &arrayGen{elem: el, length: n, multiset: t.Kind == types.Multiset}, nil
	case types.Map:
		n, err := b.collectionLength(path)
		if err != nil {
			return nil, err
		}
		k, err := b.random(path+".key", *t.Key)
		if err != nil {
			return nil, err
		}
		v, err := b.random(path+".value", *t.Elem)
		if err != nil {
			return nil, err
		}
		return &mapGen{key: k, val: v, length: n}, nil
	case types.Row:
		g := &rowGen{}
		for _, f := range t.Fields {
			fg, err := b.random(path+"."+f.Name, f.Type)
			if err != nil {
				return nil, err
			}
			g.fields = append(g.fields, fg)
		}
		return g, nil
	}
	return nil, &options.Error{Msg: fmt.Sprintf("Unsupported type: %s (field '%s'): the datagen connector cannot generate it.", t, path)}
}

func (b *builder) collectionLength(path string) (int, error) {
	n, ok := get(b, FieldLength, path)
	if !ok {
		return 3, nil
	}
	if n < 0 {
		key := FieldLength.At(path).Key()
		return 0, b.errf(key, "Invalid value for option '%s': %d must not be negative", b.r.Given(key), n)
	}
	return n, nil
}

func (b *builder) minMaxErr(path string, lo, hi any) error {
	return b.errf(FieldMin.At(path).Key(), "Option '%s' (%v) must not be greater than '%s' (%v).",
		b.r.Given(FieldMin.At(path).Key()), lo, b.r.Given(FieldMax.At(path).Key()), hi)
}

func (b *builder) intBound(k options.Key[string], path string, t types.Type, def int64) (int64, error) {
	s, ok := get(b, k, path)
	if !ok {
		return def, nil
	}
	key := k.At(path).Key()
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		if _, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64); ferr == nil && !isRange(err) {
			return 0, b.errf(key, "Invalid value for option '%s': '%s' is not an integer", b.r.Given(key), s)
		}
		if isRange(err) {
			return 0, b.errf(key, "Invalid value for option '%s': '%s' is out of range for %s", b.r.Given(key), s, t.WithNullable(true))
		}
		return 0, b.errf(key, "Invalid value for option '%s': '%s' is not a number", b.r.Given(key), s)
	}
	lo, hi := intRange(t.Kind)
	if t.Kind == types.IntervalYearMonth {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	if n < lo || n > hi {
		return 0, b.errf(key, "Invalid value for option '%s': '%s' is out of range for %s", b.r.Given(key), s, t.WithNullable(true))
	}
	return n, nil
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (b *builder) floatBound(k options.Key[string], path string, def float64) (float64, error) {
	s, ok := get(b, k, path)
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		key := k.At(path).Key()
		return 0, b.errf(key, "Invalid value for option '%s': '%s' is not a number", b.r.Given(key), s)
	}
	return f, nil
}

// decimal builds a generator of unscaled values uniform in [min, max] at the column's scale. As in Flink,
// the default range is [0, largest value of the type].
func (b *builder) decimal(path string, t types.Type) (gen, error) {
	ten := big.NewInt(10)
	largest := new(big.Int).Sub(new(big.Int).Exp(ten, big.NewInt(int64(t.Precision)), nil), big.NewInt(1))
	lo, hi := new(big.Int), new(big.Int).Set(largest)
	for _, bound := range []struct {
		k   options.Key[string]
		dst *big.Int
	}{{FieldMin, lo}, {FieldMax, hi}} {
		s, ok := get(b, bound.k, path)
		if !ok {
			continue
		}
		key := bound.k.At(path).Key()
		r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok {
			return nil, b.errf(key, "Invalid value for option '%s': '%s' is not a number", b.r.Given(key), s)
		}
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(ten, big.NewInt(int64(t.Scale)), nil)))
		u := new(big.Int).Quo(r.Num(), r.Denom()) // toward zero, as Flink's RoundingMode.DOWN
		if new(big.Int).Abs(u).Cmp(largest) > 0 {
			return nil, b.errf(key, "Invalid value for option '%s': '%s' does not fit %s", b.r.Given(key), s, t.WithNullable(true))
		}
		bound.dst.Set(u)
	}
	if lo.Cmp(hi) > 0 {
		return nil, b.minMaxErr(path, FieldMin.At(path).Get(b.r), FieldMax.At(path).Get(b.r))
	}
	if lo.IsInt64() && hi.IsInt64() {
		return &decimalGen{scale: t.Scale, lo: lo.Int64(), hi: hi.Int64()}, nil
	}
	span := new(big.Int).Sub(hi, lo)
	return &decimalGen{scale: t.Scale, blo: lo, bspan: span.Add(span, big.NewInt(1))}, nil
}
