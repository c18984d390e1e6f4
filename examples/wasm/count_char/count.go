// Command count_char is an example Sluice SQL function module: Nexmark q14's COUNT_CHAR(s, c), the
// number of occurrences of the character c in s. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o count_char.wasm ./examples/wasm/count_char
//
// and declare it with
//
//	CREATE FUNCTION count_char AS 'count_char' LANGUAGE WASM USING JAR 'file:///path/to/count_char.wasm';
package main

import "strings"

func main() {} // a c-shared (reactor) module: the exports are the program

// CountChar counts the occurrences of the first character of c in s (0 when c is empty).
func CountChar(s, c string) int32 {
	if c == "" {
		return 0
	}
	r := []rune(c)[0]
	if r < 0x80 {
		return int32(strings.Count(s, c[:1]))
	}
	return int32(strings.Count(s, string(r)))
}
