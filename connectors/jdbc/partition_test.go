package jdbc

import (
	"fmt"
	"math"
	"math/big"
	"testing"
)

func TestPartitions(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int64
		n      int
		want   string
	}{
		{1, 10, 3, "[{1 4} {5 7} {8 10}]"},
		{5, 94, 4, "[{5 27} {28 50} {51 72} {73 94}]"},
		{0, 2, 5, "[{0 0} {1 1} {2 2}]"}, // more partitions than values
		{-3, -3, 1, "[{-3 -3}]"},
		{math.MinInt64, math.MaxInt64, 3, fmt.Sprintf("[{%d -3074457345618258603} {-3074457345618258602 3074457345618258602} {3074457345618258603 %d}]", int64(math.MinInt64), int64(math.MaxInt64))},
		{math.MinInt64, math.MaxInt64, 2, fmt.Sprintf("[{%d -1} {0 %d}]", int64(math.MinInt64), int64(math.MaxInt64))},
	} {
		if got := fmt.Sprint(partitions(tc.lo, tc.hi, tc.n)); got != tc.want {
			t.Errorf("partitions(%d, %d, %d) = %s, want %s", tc.lo, tc.hi, tc.n, got, tc.want)
		}
	}
}

func TestDecimalRescale(t *testing.T) {
	for _, tc := range []struct {
		u             int64
		scale, target int
		want          string
	}{
		{12345, 2, 2, "12345"}, {12345, 2, 4, "1234500"}, {12345, 3, 2, "1235"}, {-12345, 3, 2, "-1235"}, {12344, 3, 2, "1234"},
	} {
		v := decimal(big.NewInt(tc.u), tc.scale, tc.target)
		if got := v.DecimalBig().String(); got != tc.want || v.DecimalScale() != tc.target {
			t.Errorf("decimal(%d, %d, %d) = %s scale %d, want %s", tc.u, tc.scale, tc.target, got, v.DecimalScale(), tc.want)
		}
	}
}
