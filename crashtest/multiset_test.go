package crashtest

import (
	"encoding/json"
	"fmt"
	"testing"
)

// idValueRows reads topic (read_committed) and counts its rows as "id/value" of their BIGINT columns id and
// field ("-" for a NULL field), for multisetDiff.
func idValueRows(t *testing.T, addr, topic, field string) map[string]int {
	got := map[string]int{}
	for _, r := range consume(t, addr, topic, true) {
		var v map[string]*int64
		if err := json.Unmarshal(r.Value, &v); err != nil || v["id"] == nil {
			t.Fatalf("unreadable row %q", r.Value)
		}
		p := "-"
		if f := v[field]; f != nil {
			p = fmt.Sprint(*f)
		}
		got[fmt.Sprintf("%d/%s", *v["id"], p)]++
	}
	return got
}

// multisetDiff compares the rows read (got, counted) with want as multisets: "" when equal, else how many of
// want's rows were lost or written more than once and how many read rows were not wanted, with an example.
func multisetDiff(want, got map[string]int) string {
	missing, dup, unexpected, example := 0, 0, 0, ""
	for k, w := range want {
		switch g := got[k]; {
		case g < w:
			missing++
			if example == "" {
				example = fmt.Sprintf("%s missing", k)
			}
		case g > w:
			dup++
			if example == "" {
				example = fmt.Sprintf("%s written %d times", k, g)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			unexpected++
			if example == "" {
				example = fmt.Sprintf("%s unexpected", k)
			}
		}
	}
	if missing == 0 && dup == 0 && unexpected == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d rows lost, %d written more than once, %d wrong or unexpected (%s)", missing, len(want), dup, unexpected, example)
}
