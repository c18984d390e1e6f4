package textconv

import "testing"

// BenchmarkParseDecimal parses the kinds of DECIMAL text the formats see: short prices (the int64 fast
// path) and a wide value (the 128-bit path).
func BenchmarkParseDecimal(b *testing.B) {
	for _, c := range []struct {
		name string
		text string
		p, s int
	}{{"short", "12345.67", 18, 2}, {"wide", "1234567890123456789012.345", 38, 3}} {
		text := []byte(c.text)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, r := ParseDecimal(text, c.p, c.s, false); r != OK {
					b.Fatal(r)
				}
			}
		})
	}
}
