package expr

import (
	"testing"

	"github.com/sluicesql/sluice/types"
)

// Children and FieldAccess see through the expression kinds the planner's projection pushdown walks.
func TestInspect(t *testing.T) {
	rowT := types.Type{Kind: types.Row, Fields: []types.Field{{Name: "id", Type: types.BigIntType()}, {Name: "name", Type: types.StringType()}}}
	r := Column(1, "r", rowT)
	f, err := Call(nil, "FIELD", r, Literal(types.StringValue("name"), types.StringType().WithNullable(false)))
	if err != nil {
		t.Fatal(err)
	}
	row, i, ok := FieldAccess(f)
	if !ok || i != 1 || row != r {
		t.Fatalf("FieldAccess(%s) = %v, %d, %t", f, row, i, ok)
	}
	up, err := Call(nil, "UPPER", f)
	if err != nil {
		t.Fatal(err)
	}
	cs, known := Children(up)
	if !known || len(cs) != 1 || cs[0] != f {
		t.Fatalf("Children(%s) = %v, %t", up, cs, known)
	}
	if _, _, ok := FieldAccess(up); ok {
		t.Fatalf("UPPER is not a field access")
	}
	cw, err := CaseWhen([]Expr{Literal(types.BoolValue(true), types.BooleanType())}, []Expr{f}, Column(0, "s", types.StringType()))
	if err != nil {
		t.Fatal(err)
	}
	if cs, known := Children(cw); !known || len(cs) != 3 {
		t.Fatalf("Children(CASE) = %v, %t", cs, known)
	}
}
