package crashtest

import "fmt"

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
