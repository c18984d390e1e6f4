package engine

import (
	"context"
	"io"
	"testing"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// Go functions registered in a session show in SHOW USER FUNCTIONS and SHOW FUNCTIONS.
func TestShowUserFunctions(t *testing.T) {
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	u, err := expr.NewUDF("double_it", func(x int64) int64 { return 2 * x })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterFunction(u); err != nil {
		t.Fatal(err)
	}
	has := func(stmt, name string) bool {
		st, err := sql.ParseStatement(stmt)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rows {
			if r[0].Str() == name {
				return true
			}
		}
		return false
	}
	if !has("SHOW USER FUNCTIONS", "DOUBLE_IT") || !has("SHOW FUNCTIONS", "DOUBLE_IT") || !has("SHOW FUNCTIONS", "UPPER") {
		t.Fatal("DOUBLE_IT missing from SHOW USER FUNCTIONS / SHOW FUNCTIONS")
	}
	if has("SHOW USER FUNCTIONS", "UPPER") {
		t.Fatal("SHOW USER FUNCTIONS lists a built-in function")
	}
}
