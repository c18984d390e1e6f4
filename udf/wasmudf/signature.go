package wasmudf

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/sluicesql/sluice/types"
)

// Signature is the SQL signature of a WASM function, read from its NAME__signature export.
type Signature struct {
	Params []types.Type
	Result types.Type
}

// String prints the signature as the module declares it: STRING, STRING -> INT.
func (s Signature) String() string {
	ps := make([]string, len(s.Params))
	for i, p := range s.Params {
		ps[i] = typeName(p)
	}
	return strings.Join(ps, ", ") + " -> " + typeName(s.Result)
}

func typeName(t types.Type) string {
	switch t.Kind {
	case types.VarChar:
		return "STRING"
	case types.VarBinary:
		return "BYTES"
	}
	return t.String()
}

// ParseSignature parses "ARG, ... -> RESULT" (no arguments: "-> RESULT"); the types are BIGINT, INT
// (INTEGER), DOUBLE, BOOLEAN, STRING and BYTES, in any case.
func ParseSignature(text string) (Signature, error) {
	var s Signature
	args, res, ok := strings.Cut(text, "->")
	if !ok {
		return s, fmt.Errorf("signature %q: want \"ARG, ... -> RESULT\", e.g. \"STRING, STRING -> INT\"", text)
	}
	if strings.TrimSpace(args) != "" {
		for _, a := range strings.Split(args, ",") {
			t, err := parseType(a)
			if err != nil {
				return s, fmt.Errorf("signature %q: %w", text, err)
			}
			s.Params = append(s.Params, t)
		}
	}
	t, err := parseType(res)
	if err != nil {
		return s, fmt.Errorf("signature %q: %w", text, err)
	}
	s.Result = t
	return s, nil
}

func parseType(s string) (types.Type, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "BIGINT":
		return types.BigIntType(), nil
	case "INT", "INTEGER":
		return types.IntType(), nil
	case "DOUBLE":
		return types.DoubleType(), nil
	case "BOOLEAN":
		return types.BooleanType(), nil
	case "STRING":
		return types.StringType(), nil
	case "BYTES":
		return types.BytesType(), nil
	}
	return types.Type{}, fmt.Errorf("type %q is not supported (want BIGINT, INT, DOUBLE, BOOLEAN, STRING or BYTES)", strings.TrimSpace(s))
}

// wasmParams is the WebAssembly parameter list that carries SQL parameters ps.
func wasmParams(ps []types.Type) []api.ValueType {
	var out []api.ValueType
	for _, p := range ps {
		switch p.Kind {
		case types.BigInt:
			out = append(out, api.ValueTypeI64)
		case types.Double:
			out = append(out, api.ValueTypeF64)
		case types.VarChar, types.VarBinary:
			out = append(out, api.ValueTypeI32, api.ValueTypeI32)
		default: // INT, BOOLEAN
			out = append(out, api.ValueTypeI32)
		}
	}
	return out
}

// wasmResult is the WebAssembly result type of SQL result t.
func wasmResult(t types.Type) api.ValueType {
	switch t.Kind {
	case types.BigInt, types.VarChar, types.VarBinary:
		return api.ValueTypeI64
	case types.Double:
		return api.ValueTypeF64
	}
	return api.ValueTypeI32
}

func wasmTypes(ts []api.ValueType) string {
	ns := make([]string, len(ts))
	for i, t := range ts {
		ns[i] = api.ValueTypeName(t)
	}
	return "(" + strings.Join(ns, ", ") + ")"
}
