package expr

import (
	"sort"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/types"
)

func TestFunctionNames(t *testing.T) {
	names := FunctionNames()
	if !sort.StringsAreSorted(names) {
		t.Fatalf("not sorted: %v", names)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, want := range []string{"UPPER", "SUBSTRING", "DATE_FORMAT", "COALESCE", "CAST", "TO_TIMESTAMP"} {
		if !have[want] {
			t.Errorf("missing %s", want)
		}
	}
	for _, op := range []string{"+", "AND", "IS NULL", "LIKE", "ITEM"} {
		if have[op] {
			t.Errorf("operator %s listed as a function", op)
		}
	}
}

func TestConstantFold(t *testing.T) {
	x := mustCall(t, "+", intLit(1), intLit(2))
	f := ConstantFold(x)
	if f.String() != "3" || !f.Type().Equal(x.Type()) {
		t.Fatalf("folded to %s : %s", f, f.Type())
	}
	c := Column(0, "a", types.IntType())
	y := mustCall(t, "+", c, intLit(2))
	if ConstantFold(y) != y {
		t.Fatal("folded a non-constant")
	}
}

// TestConcurrentEval evaluates shared expressions from several goroutines (run with -race).
func TestConcurrentEval(t *testing.T) {
	hot := hotExprs(t)
	s := Column(0, "s", types.StringType())
	re := mustCall(t, "REGEXP", s, Column(1, "p", types.StringType()))
	rnd := mustCall(t, "RAND", intLit(1))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				for _, c := range hot {
					if _, err := c.x.Eval(c.row); err != nil {
						t.Error(err)
					}
				}
				p := "a+"
				if i%2 == 0 {
					p = "b+"
				}
				if _, err := re.Eval([]types.Value{types.StringValue("aab"), types.StringValue(p)}); err != nil {
					t.Error(err)
				}
				if _, err := rnd.Eval(nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
