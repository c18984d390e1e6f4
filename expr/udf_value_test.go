package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// A NewValueUDF receives SQL values (integers widened as declared, numbers as DOUBLE for a DOUBLE
// parameter), is skipped for NULL arguments, and is type-checked like a Go UDF with SQL type names.
func TestValueUDF(t *testing.T) {
	var got []types.Value
	u, err := NewValueUDF("f", "WASM function", []types.Type{types.DoubleType(), types.StringType(), types.IntType()}, types.BigIntType(),
		func(args []types.Value) (types.Value, error) {
			got = append(got[:0], args...)
			if args[1].Str() == "fail" {
				return types.NullValue, errors.New("no")
			}
			return types.IntValue(int64(len(args[1].Str()))), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(nil)
	env.Functions = map[string]*UDF{"F": u}
	cols := []Expr{Column(0, "a", types.IntType()), Column(1, "b", types.StringType()), Column(2, "c", types.SmallIntType())}
	call, err := Call(env, "f", cols...)
	if err != nil {
		t.Fatal(err)
	}
	if call.Type().Kind != types.BigInt {
		t.Fatalf("result type %s", call.Type())
	}
	v, err := call.Eval([]types.Value{types.IntValue(3), types.StringValue("abcd"), types.IntValue(7)})
	if err != nil || v.Int() != 4 {
		t.Fatalf("f = %v, %v", v, err)
	}
	if got[0].T != types.TagFloat || got[0].Float() != 3 || got[2].Int() != 7 {
		t.Fatalf("arguments %v: want 3.0 as DOUBLE and 7", got)
	}
	got = nil
	v, err = call.Eval([]types.Value{types.IntValue(3), types.NullValue, types.IntValue(7)})
	if err != nil || !v.IsNull() || got != nil {
		t.Fatalf("NULL argument: %v, %v, called with %v", v, err, got)
	}
	if _, err := call.Eval([]types.Value{types.IntValue(3), types.StringValue("fail"), types.IntValue(7)}); err == nil || err.Error() != "no" {
		t.Fatalf("error: %v", err)
	}
	_, err = Call(env, "f", cols[0], cols[1], Column(0, "x", types.BigIntType()))
	if err == nil || !strings.Contains(err.Error(), "(WASM function; argument 3 must be INT)") ||
		!strings.Contains(err.Error(), "'F(<DOUBLE>, <VARCHAR(2147483647)>, <INTEGER>) BIGINT'") {
		t.Fatalf("type error: %v", err)
	}
	if _, err := Call(env, "f", cols[1], cols[1], cols[0]); err == nil {
		t.Fatal("STRING accepted for a DOUBLE parameter")
	}
	if _, err := NewValueUDF("g", "x", []types.Type{types.DateType()}, types.IntType(), func([]types.Value) (types.Value, error) { return types.NullValue, nil }); err == nil {
		t.Fatal("DATE parameter accepted")
	}
}
