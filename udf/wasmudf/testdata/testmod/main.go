// Command testmod is a WASM function module for the tests of package wasmudf: one function per SQL type,
// one that panics, one that loops, and exports with a bad signature.
package main

import (
	"github.com/sluicesql/sluice/udf/wasmguest"
)

func main() {}

//go:wasmexport rev
func rev(p, n uint32) uint64 {
	s := []rune(wasmguest.Arg(p, n))
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return wasmguest.String(string(s))
}

//go:wasmexport rev__signature
func revSig() uint64 { return wasmguest.Signature("STRING -> STRING") }

//go:wasmexport mix
func mix(a int64, b float64, c int32, d int32, bp, bn uint32) float64 {
	x := float64(a) + b + float64(c) + float64(len(wasmguest.BytesArg(bp, bn)))
	if d != 0 {
		x = -x
	}
	return x
}

//go:wasmexport mix__signature
func mixSig() uint64 { return wasmguest.Signature("BIGINT, DOUBLE, INT, BOOLEAN, BYTES -> DOUBLE") }

//go:wasmexport twice
func twice(b uint32, bp, bn uint32) uint64 {
	in := wasmguest.BytesArg(bp, bn)
	if b == 0 {
		return wasmguest.Bytes(in)
	}
	return wasmguest.Bytes(append(append([]byte{}, in...), in...))
}

//go:wasmexport twice__signature
func twiceSig() uint64 { return wasmguest.Signature("BOOLEAN, BYTES -> BYTES") }

//go:wasmexport is_even
func isEven(n int64) int32 {
	if n%2 == 0 {
		return 1
	}
	return 0
}

//go:wasmexport is_even__signature
func isEvenSig() uint64 { return wasmguest.Signature("bigint -> boolean") }

//go:wasmexport boom
func boom(p, n uint32) int64 {
	s := wasmguest.Arg(p, n)
	if s == "boom" {
		panic("boom: the guest gave up")
	}
	return int64(len(s))
}

//go:wasmexport boom__signature
func boomSig() uint64 { return wasmguest.Signature("STRING -> BIGINT") }

var sink int64

//go:wasmexport spin
func spin(n int64) int64 {
	for i := int64(0); n < 0 || i < n; i++ {
		sink += i
	}
	return n
}

//go:wasmexport spin__signature
func spinSig() uint64 { return wasmguest.Signature("BIGINT -> BIGINT") }

//go:wasmexport nosig
func nosig(n int64) int64 { return n }

//go:wasmexport badsig
func badsig(n int64) int64 { return n }

//go:wasmexport badsig__signature
func badsigSig() uint64 { return wasmguest.Signature("BIGINT -> DATE") }

//go:wasmexport wrongtype
func wrongtype(n int32) int64 { return int64(n) }

//go:wasmexport wrongtype__signature
func wrongtypeSig() uint64 { return wasmguest.Signature("BIGINT -> BIGINT") }

var hoard [][]byte

//go:wasmexport hog
func hog(mib int64) int64 {
	for i := int64(0); i < mib; i++ {
		hoard = append(hoard, make([]byte, 1<<20))
	}
	return int64(len(hoard))
}

//go:wasmexport hog__signature
func hogSig() uint64 { return wasmguest.Signature("BIGINT -> BIGINT") }
