package expr

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRegexpFastShapes: the hand matcher takes the shapes it is meant for and leaves the rest to regexp.
func TestRegexpFastShapes(t *testing.T) {
	for _, p := range fastShapes {
		re, err := CompileRegexpFast(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !re.Fast() {
			t.Errorf("%s: not matched by hand", p)
		}
	}
	for _, p := range []string{
		`(&|^)channel_id=([^&]*?)`, // lazy
		`(?i)channel_id=([^&]*)`,   // case-folded
		`(?m)(&|^)c=([^&]*)`,       // ^ of a line
		`c([^é]*)`,                 // a class with some non-ASCII runes
		`(&|^)c=([^&]*)(x)`,        // a group after the run
		`([^&]*)`,                  // no literal
		`(a|b)c([^&]*)`,            // a class prefix
		`c=([^&]*)&`,               // something after the run
		`c=(?P<v>[^&]*)\d`,
		`\Qa.b\E`,
	} {
		re, err := CompileRegexpFast(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if re.Fast() {
			t.Errorf("%s: matched by hand, should go to regexp", p)
		}
	}
}

var fastShapes = []string{
	`(&|^)channel_id=([^&]*)`,
	`(&|^)c=([^&]*)`,
	`(?:&|^)c=([^&]+)`,
	`(^|&)c=([^&]*)`,
	`(==|&|^)c(.*)`,
	`(|&)ch([^&=]*)`,
	`^ch([^&]*)$`,
	`^c=[^&]*`,
	`c=(h*)`,
	`ch=(=+)$`,
	`(c)h([a-z]+)`,
	`(&|^)é=([^&]*)`,
	`(&|^)&c([^=]*)`,
	`(=|&c|^)c([^&]*)`,
	`\Qc=\E([^&]*)`,
}

// TestRegexpFastMatchesRegexp compares the hand matcher with regexp over random strings of a small
// alphabet (the literals' letters, the separators, a non-ASCII rune and a byte of invalid UTF-8).
func TestRegexpFastMatchesRegexp(t *testing.T) {
	alphabet := []string{"&", "=", "c", "h", "c=", "&c=", "ch=", "channel_id=", "é", "\xff", "a"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range fastShapes {
		fast, err := CompileRegexpFast(p)
		if err != nil || !fast.Fast() {
			t.Fatalf("%s: %v (fast %v)", p, err, err == nil && fast.Fast())
		}
		slow := regexp.MustCompile(javaRegexp(p))
		var b strings.Builder
		var buf []int
		for i := 0; i < 20000; i++ {
			b.Reset()
			for n := rng.IntN(9); n > 0; n-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s := b.String()
			want := slow.FindStringSubmatchIndex(s)
			got := fast.SubmatchIndex(s, buf)
			if !slices.Equal(got, want) {
				t.Fatalf("%s on %q: hand %v, regexp %v", p, s, got, want)
			}
			if got != nil {
				buf = got
			}
			if fast.Match(s) != slow.MatchString(s) {
				t.Fatalf("%s on %q: Match %v, regexp %v", p, s, fast.Match(s), slow.MatchString(s))
			}
		}
	}
}

// BenchmarkRegexpExtractQ21 is q21's REGEXP_EXTRACT on a Nexmark url, by hand and by regexp.
func BenchmarkRegexpExtractQ21(b *testing.B) {
	const p = `(&|^)channel_id=([^&]*)`
	url := "https://www.nexmark.com/item.htm?query=1&channel_id=1234567"
	b.Run("hand", func(b *testing.B) {
		re, _ := CompileRegexpFast(p)
		var buf [6]int
		for i := 0; i < b.N; i++ {
			if re.SubmatchIndex(url, buf[:0]) == nil {
				b.Fatal("no match")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		re := regexp.MustCompile(p)
		for i := 0; i < b.N; i++ {
			if re.FindStringSubmatchIndex(url) == nil {
				b.Fatal("no match")
			}
		}
	})
}

// TestRegexpFastNoAlloc: a match by hand into a reused slice, and Match, allocate nothing.
func TestRegexpFastNoAlloc(t *testing.T) {
	re, _ := CompileRegexpFast(`(&|^)channel_id=([^&]*)`)
	url := "https://www.nexmark.com/item.htm?query=1&channel_id=1234567"
	buf := make([]int, 0, 6)
	if n := testing.AllocsPerRun(100, func() {
		if m := re.SubmatchIndex(url, buf); m == nil || url[m[4]:m[5]] != "1234567" {
			t.Fatalf("match %v", m)
		}
		if !re.Match(url) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Errorf("%v allocations per match", n)
	}
}
