//go:build wasip1

package wasmguest

import "unsafe"

// scratch is the buffer Sluice copies the STRING and BYTES arguments of one call into; result keeps the
// last STRING or BYTES result alive until Sluice has copied it out.
var (
	scratch []byte
	result  []byte
	sig     []byte
)

// sluiceAlloc returns a buffer of at least size bytes. Sluice owns it until the next sluice_alloc call
// and reuses it for the arguments of every call in between.
//
//go:wasmexport sluice_alloc
func sluiceAlloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	scratch = make([]byte, size)
	return uint32(uintptr(unsafe.Pointer(&scratch[0])))
}

// Arg returns the STRING argument at ptr, len. It is valid only during the call: it points into a buffer
// that the next call overwrites (strings.Clone it to keep it).
func Arg(ptr, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

// BytesArg returns the BYTES argument at ptr, len, valid only during the call like Arg.
func BytesArg(ptr, n uint32) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
}

// String returns s as a STRING result: its address in the high 32 bits and its length in the low 32.
func String(s string) uint64 {
	result = append(result[:0], s...)
	return pack(result)
}

// Bytes returns b as a BYTES result.
func Bytes(b []byte) uint64 {
	result = append(result[:0], b...)
	return pack(result)
}

// Signature returns the SQL signature text of a function, "ARG, ... -> RESULT", for NAME__signature.
func Signature(s string) uint64 {
	sig = append(sig[:0], s...)
	return pack(sig)
}

func pack(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}
