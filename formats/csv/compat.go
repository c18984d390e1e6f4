package csv

import (
	"strconv"

	"github.com/sluicesql/sluice/types"
)

// appendJavaFloat writes a FLOAT/DOUBLE as Java's Float/Double.toString does (TODO: types.AppendPrint).
func appendJavaFloat(dst []byte, v types.Value, t types.Type) []byte {
	bits := 64
	if t.Kind == types.Float {
		bits = 32
	}
	return strconv.AppendFloat(dst, v.Float(), 'g', -1, bits)
}
