// Package wasmguest helps write Sluice SQL functions in Go for WebAssembly (see docs/UDF.md).
//
// A function module is a WASI reactor built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o udfs.wasm .
//
// Importing this package exports sluice_alloc, through which Sluice copies STRING and BYTES arguments into
// the module's memory. Each SQL function NAME is a //go:wasmexport NAME function taking and returning the
// WebAssembly form of its SQL types, plus a //go:wasmexport NAME__signature function that returns
// Signature("STRING, STRING -> INT"):
//
//	SQL type   parameters         result
//	BIGINT     int64              int64
//	INT        int32              int32
//	DOUBLE     float64            float64
//	BOOLEAN    int32 (0 or 1)     int32 (0 false, else true)
//	STRING     ptr, len uint32    uint64 from String
//	BYTES      ptr, len uint32    uint64 from Bytes
//
// The functions in this package do anything only in a wasip1 build.
package wasmguest
