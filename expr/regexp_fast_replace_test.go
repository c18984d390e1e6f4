package expr

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestRegexpFastReplaceMatchesRegexp: AppendReplaceAllLiteral through the hand matcher gives regexp's
// ReplaceAllLiteralString (every match, leftmost-first, ^ and $ anchored at the ends of the whole string,
// the replacement literal: "$1" stays as written) over random strings of the shapes' alphabet.
func TestRegexpFastReplaceMatchesRegexp(t *testing.T) {
	alphabet := []string{"&", "=", "c", "h", "c=", "&c=", "ch=", "channel_id=", "é", "\xff", "a"}
	repls := []string{"", "#", "$1", "${2}x", "é\xff"}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range fastShapes {
		fast, err := CompileRegexpFast(p)
		if err != nil || !fast.Fast() {
			t.Fatalf("%s: %v (fast %v)", p, err, err == nil && fast.Fast())
		}
		slow := regexp.MustCompile(javaRegexp(p))
		var b strings.Builder
		var dst []byte
		for i := 0; i < 20000; i++ {
			b.Reset()
			for n := rng.IntN(12); n > 0; n-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s, repl := b.String(), repls[rng.IntN(len(repls))]
			want := slow.ReplaceAllLiteralString(s, repl)
			dst = fast.AppendReplaceAllLiteral(append(dst[:0], "pre"...), s, repl)
			if got := string(dst); got != "pre"+want {
				t.Fatalf("%s on %q with %q: hand %q, regexp %q", p, s, repl, got[3:], want)
			}
		}
	}
}
