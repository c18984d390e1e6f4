package changelog

import (
	"time"

	"github.com/sluicesql/sluice/types"
)

// AppendRow appends r as Flink's print connector shows it: the kind's short string and the values in
// brackets, comma-separated, e.g. "+I[1, alice, 12.50]" ("-U[...]", "+U[...]", "-D[...]"). ts are the column
// types (used for DECIMAL scale, TIMESTAMP precision and nested values); loc renders TIMESTAMP_LTZ values.
func AppendRow(dst []byte, r Row, ts []types.Type, loc *time.Location) []byte {
	dst = append(dst, r.Kind.String()...)
	dst = append(dst, '[')
	for i, v := range r.Vals {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		var t types.Type
		if i < len(ts) {
			t = ts[i]
		}
		dst = types.AppendPrint(dst, v, t, loc)
	}
	return append(dst, ']')
}
