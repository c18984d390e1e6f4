//go:build wasip1

package main

import "github.com/sluicesql/sluice/udf/wasmguest"

//go:wasmexport count_char
func countChar(sPtr, sLen, cPtr, cLen uint32) int32 {
	return CountChar(wasmguest.Arg(sPtr, sLen), wasmguest.Arg(cPtr, cLen))
}

//go:wasmexport count_char__signature
func countCharSignature() uint64 { return wasmguest.Signature("STRING, STRING -> INT") }
