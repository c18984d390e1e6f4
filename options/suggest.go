package options

import (
	"fmt"
	"sort"
	"strings"
)

// Suggest returns the candidate closest to s by edit distance, if it is close enough to be a likely typo.
func Suggest(s string, candidates []string) (string, bool) {
	best, bestD, bestP := "", -1, 0
	for _, c := range candidates {
		d, p := editDistance(s, c), commonPrefix(s, c)
		if bestD < 0 || d < bestD || d == bestD && (p > bestP || p == bestP && c < best) {
			best, bestD, bestP = c, d, p
		}
	}
	if bestD < 0 || bestD == 0 {
		return "", false
	}
	limit := 1 + min(len(s), len(best))/10
	if bestD > limit {
		return "", false
	}
	return best, true
}

// didYouMean writes one "Did you mean" line for each of keys close to a candidate.
func didYouMean(keys, cands []string) string {
	var lines []string
	for _, k := range keys {
		if c, ok := Suggest(k, cands); ok {
			lines = append(lines, fmt.Sprintf("Did you mean '%s' instead of '%s'?", c, k))
		}
	}
	return strings.Join(lines, "\n")
}

// candidates lists concrete keys to suggest for the unsupported keys: plain keys and deprecated spellings
// as declared, and '#' patterns instantiated with the segments of each unsupported key.
func candidates(decls []Decl, unsupported []string) []string {
	seen := map[string]bool{}
	for _, d := range decls {
		switch {
		case d.IsPrefix():
			continue
		case d.IsPattern():
			ps := strings.Split(d.Key, ".")
			if strings.Count(d.Key, "#") != 1 {
				continue
			}
			for _, u := range unsupported {
				ks := strings.Split(u, ".")
				if len(ks) < len(ps) {
					continue
				}
				var segs []string
				n := len(ks) - len(ps) + 1
				for i, p := range ps {
					if p == "#" {
						segs = append(segs, strings.Join(ks[i:i+n], "."))
					}
				}
				seen[substitute(d.Key, segs)] = true
			}
		default:
			seen[d.Key] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
