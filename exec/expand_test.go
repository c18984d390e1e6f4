package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestExpandKeepsUpdatePairsAdjacent: each grouping set's -U copy is immediately followed by its +U copy,
// also when the -U and the +U arrive in different pushes; other kinds expand set by set in place.
func TestExpandKeepsUpdatePairsAdjacent(t *testing.T) {
	var got []string
	op := NewExpand([][]int{nil, {0}}, []int64{0, 2}, NewCollect(func(r changelog.Row) error {
		var vs []string
		for _, v := range r.Vals {
			if v.IsNull() {
				vs = append(vs, "null")
			} else {
				vs = append(vs, fmt.Sprint(v.I))
			}
		}
		got = append(got, fmt.Sprintf("%s[%s]", r.Kind, strings.Join(vs, " ")))
		return nil
	}))
	push := func(rows ...changelog.Row) {
		var b changelog.Batch
		for _, r := range rows {
			b.Append(r.Kind, r.Vals)
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	row := func(k changelog.Kind, a, v int64) changelog.Row {
		return changelog.Row{Kind: k, Vals: []types.Value{types.IntValue(a), types.IntValue(v)}}
	}
	push(row(changelog.Insert, 1, 10), row(changelog.UpdateBefore, 1, 10))
	push(row(changelog.UpdateAfter, 1, 11), row(changelog.Delete, 1, 11))
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"+I[1 10 0]", "+I[null 10 2]",
		"-U[1 10 0]", "+U[1 11 0]", "-U[null 10 2]", "+U[null 11 2]",
		"-D[1 11 0]", "-D[null 11 2]",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}
