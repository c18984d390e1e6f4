package exec

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// AggCall is one aggregate function call of a group aggregate.
type AggCall struct {
	Func     string       // COUNT, SUM, SUM0, MIN, MAX, AVG, FIRST_VALUE, LAST_VALUE, LISTAGG, BOOL_AND, BOOL_OR
	Distinct bool         // aggregate each distinct argument value once
	Args     []int        // input columns of the arguments (none for COUNT(*))
	ArgTypes []types.Type // their types
	Filter   int          // input column of a BOOLEAN FILTER (WHERE ...) condition, -1 for none
	Type     types.Type   // result type, from AggResultType
}

// AggResultType returns the result type of fn(args) as Flink types it, or an error saying why the call is
// not supported: COUNT is BIGINT NOT NULL; SUM follows types.SumResultType and AVG types.AvgResultType
// (both nullable, numeric arguments only); SUM0 is SUM's type NOT NULL; MIN, MAX, FIRST_VALUE and
// LAST_VALUE return their (nullable) argument type; LISTAGG(x[, sep]) is STRING; BOOL_AND/BOOL_OR BOOLEAN.
func AggResultType(fn string, distinct bool, args []types.Type) (types.Type, error) {
	fn = strings.ToUpper(fn)
	call := fn + "(" + argKinds(args) + ")"
	one := func() error {
		if len(args) != 1 {
			return fmt.Errorf("%s expects 1 argument, got %d", call, len(args))
		}
		return nil
	}
	if t, ok, err := statResultType(fn, call, args); ok { // accumulators_stat.go
		return t, err
	}
	switch fn {
	case "COUNT":
		return types.BigIntType().WithNullable(false), nil
	case "SUM", "SUM0", "AVG":
		if err := one(); err != nil {
			return types.Type{}, err
		}
		if !args[0].IsNumeric() {
			return types.Type{}, fmt.Errorf("%s is not supported: %s requires a numeric argument", call, fn)
		}
		switch fn {
		case "SUM":
			return types.SumResultType(args[0]).WithNullable(true), nil
		case "SUM0":
			return types.SumResultType(args[0]).WithNullable(false), nil
		}
		return types.AvgResultType(args[0]).WithNullable(true), nil
	case "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE":
		if err := one(); err != nil {
			return types.Type{}, err
		}
		switch args[0].Kind {
		case types.Map, types.Multiset, types.Null, types.Invalid:
			return types.Type{}, fmt.Errorf("%s is not supported: %s requires a comparable argument", call, fn)
		}
		return args[0].WithNullable(true), nil
	case "LISTAGG":
		if len(args) != 1 && len(args) != 2 {
			return types.Type{}, fmt.Errorf("%s expects 1 or 2 arguments, got %d", call, len(args))
		}
		for _, a := range args {
			if !a.IsString() {
				return types.Type{}, fmt.Errorf("%s is not supported: %s requires string arguments", call, fn)
			}
		}
		return types.StringType(), nil
	case "BOOL_AND", "BOOL_OR":
		if err := one(); err != nil {
			return types.Type{}, err
		}
		if args[0].Kind != types.Boolean {
			return types.Type{}, fmt.Errorf("%s is not supported: %s requires a BOOLEAN argument", call, fn)
		}
		return types.BooleanType(), nil
	}
	return types.Type{}, fmt.Errorf("aggregate function %s is not supported", fn)
}

// argKinds prints argument types by their root name (VARCHAR, DECIMAL, ...), as Flink's messages do.
func argKinds(args []types.Type) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		s := a.WithNullable(true).String()
		switch a.Kind {
		case types.VarChar:
			s = "VARCHAR"
		case types.VarBinary:
			s = "VARBINARY"
		}
		if j := strings.IndexAny(s, "(<"); j > 0 {
			s = s[:j]
		}
		b.WriteString(s)
	}
	return b.String()
}
