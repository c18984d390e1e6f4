package expr

import (
	"fmt"

	"github.com/sluicesql/sluice/types"
)

// bindArray is ARRAY[e1, ...]: the elements in their common type; the array itself is NOT NULL.
func bindArray(c *callSite) (Expr, error) {
	et, err := c.commonArgs(0)
	if err != nil {
		return nil, err
	}
	args := c.args
	e := c.make(types.ArrayType(et).WithNullable(false), func(row []types.Value) (types.Value, error) {
		vs, err := evalAll(args, row)
		if err != nil {
			return types.NullValue, err
		}
		return types.ArrayValue(vs), nil
	})
	e.str = func() string { return "ARRAY[" + joinExprs(args) + "]" }
	return e, nil
}

// bindMap is MAP[k1, v1, ...]: keys and values each in their common type; a repeated key keeps the last
// value.
func bindMap(c *callSite) (Expr, error) {
	if len(c.args)%2 != 0 {
		return nil, errorf("MAP requires an even number of arguments, got %d", len(c.args))
	}
	var keys, vals []Expr
	for i := 0; i < len(c.args); i += 2 {
		keys, vals = append(keys, c.args[i]), append(vals, c.args[i+1])
	}
	kt, okk := commonType(exprTypes(keys)...)
	vt, okv := commonType(exprTypes(vals)...)
	if !okk || !okv {
		return nil, c.bad()
	}
	keys, vals = coerceAll(c.env, keys, kt), coerceAll(c.env, vals, vt)
	for i := range keys {
		c.args[2*i], c.args[2*i+1] = keys[i], vals[i]
	}
	eq := equalFn(kt, kt)
	e := c.make(types.MapType(kt, vt).WithNullable(false), func(row []types.Value) (types.Value, error) {
		m := &types.MapValue{}
	next:
		for i := range keys {
			k, err := keys[i].Eval(row)
			if err != nil {
				return types.NullValue, err
			}
			v, err := vals[i].Eval(row)
			if err != nil {
				return types.NullValue, err
			}
			for j, old := range m.Keys {
				if old.T == k.T && (k.T == types.TagNull || eq(old, k)) {
					m.Vals[j] = v
					continue next
				}
			}
			m.Keys, m.Vals = append(m.Keys, k), append(m.Vals, v)
		}
		return types.MapOf(m), nil
	})
	args := c.args
	e.str = func() string { return "MAP[" + joinExprs(args) + "]" }
	return e, nil
}

// bindRow is ROW(e1, ...): fields named EXPR$0, EXPR$1, ... as Calcite names them.
func bindRow(c *callSite) (Expr, error) {
	fields := make([]types.Field, len(c.args))
	for i, a := range c.args {
		fields[i] = types.Field{Name: fmt.Sprintf("EXPR$%d", i), Type: a.Type()}
	}
	args := c.args
	return c.make(types.RowType(fields...).WithNullable(false), func(row []types.Value) (types.Value, error) {
		vs, err := evalAll(args, row)
		if err != nil {
			return types.NullValue, err
		}
		return types.RowValue(vs), nil
	}), nil
}

// bindItem is ITEM(array, i) (1-based; NULL out of range) or ITEM(map, key) (NULL when absent).
func bindItem(c *callSite) (Expr, error) {
	x, k := c.args[0], c.args[1]
	tx := x.Type()
	e := c.make(types.Type{}, nil)
	e.str = func() string { return x.String() + "[" + k.String() + "]" }
	switch tx.Kind {
	case types.Array:
		if !c.intArgs(1) {
			return nil, c.bad()
		}
		k = c.args[1]
		e.typ = elemOf(tx).WithNullable(true)
		e.eval = strict2(x, k, func(a, i types.Value) (types.Value, error) {
			arr := a.Array()
			if i.I < 1 || i.I > int64(len(arr)) {
				return types.NullValue, nil
			}
			return arr[i.I-1], nil
		})
		return e, nil
	case types.Map:
		kt := keyOf(tx)
		ka, kb, _, okc := comparableTypes(c.env, Literal(types.NullValue, kt), k)
		if !okc {
			return nil, c.bad()
		}
		k = kb
		e.args = []Expr{x, k}
		eq := equalFn(ka.Type(), kb.Type())
		e.typ = elemOf(tx).WithNullable(true)
		e.eval = strict2(x, k, func(m, key types.Value) (types.Value, error) {
			mv := m.Map()
			if mv == nil {
				return types.NullValue, nil
			}
			for i, mk := range mv.Keys {
				if mk.T != types.TagNull && eq(mk, key) {
					return mv.Vals[i], nil
				}
			}
			return types.NullValue, nil
		})
		return e, nil
	}
	return nil, c.bad()
}

// bindField is FIELD(row, 'name'): the named field (names are case-sensitive, as Flink's). A NULL row
// gives NULL; the field is nullable when the row is.
func bindField(c *callSite) (Expr, error) {
	x := c.args[0]
	tx := x.Type()
	name, okc := strLiteral(c.args[1])
	if tx.Kind != types.Row || !okc {
		return nil, c.bad()
	}
	idx := -1
	for i, f := range tx.Fields {
		if f.Name == name {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, errorf("Unknown field '%s'", name)
	}
	ft := tx.Fields[idx].Type
	e := c.make(ft.WithNullable(ft.Nullable() || tx.Nullable()), strict1(x, func(r types.Value) (types.Value, error) {
		fs := r.Fields()
		if idx >= len(fs) {
			return types.NullValue, nil
		}
		return fs[idx], nil
	}))
	e.str = func() string { return x.String() + "." + quoteIdent(tx.Fields[idx].Name) }
	return e, nil
}

// bindCardinality is CARDINALITY(array|map|multiset).
func bindCardinality(c *callSite) (Expr, error) {
	x := c.args[0]
	switch x.Type().Kind {
	case types.Array, types.Multiset:
		return c.strict(types.IntType().WithNullable(false), strict1(x, func(v types.Value) (types.Value, error) {
			return types.IntValue(int64(len(v.Array()))), nil
		})), nil
	case types.Map:
		return c.strict(types.IntType().WithNullable(false), strict1(x, func(v types.Value) (types.Value, error) {
			if m := v.Map(); m != nil {
				return types.IntValue(int64(len(m.Keys))), nil
			}
			return types.IntValue(0), nil
		})), nil
	}
	return nil, c.bad()
}
