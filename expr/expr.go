// Package expr holds bound, typed scalar expressions and the scalar function library. The planner builds
// expressions with the constructors here (Column, Literal, Call, Cast, Case, ...); operators evaluate them.
// It must not import the planner, the SQL AST or connectors.
package expr

import (
	"time"

	"github.com/sluicesql/sluice/types"
)

// Expr is a bound scalar expression.
//
// Contract: Eval must not retain row; it returns NULL as types.NullValue. Eval of scalar types must not
// allocate (strings built by the function may). Errors are runtime errors for the user (division by zero,
// overflow, a cast that cannot succeed) and say what failed and with which value.
type Expr interface {
	Type() types.Type
	Eval(row []types.Value) (types.Value, error)
	// String prints the expression for EXPLAIN, columns by name: +(amount, 1), UPPER(customer).
	String() string
}

// Env is the evaluation environment shared by the expressions of one query.
type Env struct {
	// Now returns the current instant (CURRENT_TIMESTAMP, NOW(), ...). Never nil once built by NewEnv.
	Now func() time.Time
	// Location is table.local-time-zone (UTC by default): used for TIMESTAMP_LTZ conversions and
	// CURRENT_TIMESTAMP's wall clock.
	Location *time.Location
	// Functions are the session's user-defined scalar functions by upper-case name (see UDF). Call consults
	// them before the built-in library, so a UDF may shadow a built-in function. May be nil.
	Functions map[string]*UDF
}

// NewEnv returns an Env with the wall clock and the given zone (UTC when nil).
func NewEnv(loc *time.Location) *Env {
	if loc == nil {
		loc = time.UTC
	}
	return &Env{Now: time.Now, Location: loc}
}
