package types

import (
	"math"
	"strconv"
	"time"
)

// AppendSQL appends the text of CAST(v AS STRING) as Flink (1.15+) produces it:
//
//   - NULL → NULL (also for NULL elements inside ARRAY/MAP/ROW)
//   - BOOLEAN → TRUE / FALSE
//   - FLOAT/DOUBLE → Java's Float/Double.toString: 1.0, 0.001, 1.0E7, 1.0E-4, NaN, Infinity, -0.0
//   - DECIMAL → plain notation with exactly its scale: 12.30
//   - CHAR/VARCHAR → the raw text; BINARY/VARBINARY → the bytes taken as UTF-8
//   - DATE → 2020-01-31; TIME(p) → 12:34:56 plus p fraction digits
//   - TIMESTAMP(p) → 2020-01-31 12:34:56.000, padded to p digits; TIMESTAMP_LTZ(p) → the same, shown as the
//     wall clock in loc (UTC when loc is nil)
//   - INTERVAL YEAR TO MONTH → +1-02; INTERVAL DAY TO SECOND → +1 02:03:04.000
//   - ARRAY/MULTISET → [1, 2]; MAP → {a=1, b=2}; ROW → (1, a)
//
// The representation is chosen from v.T; t gives the logical detail (precision, FLOAT vs DOUBLE, LTZ).
func AppendSQL(dst []byte, v Value, t Type, loc *time.Location) []byte {
	return appendText(dst, v, t, loc, false)
}

// AppendPrint appends the text Flink's print connector shows for a value inside "+I[...]": the Java
// toString of its external type (null, true, 2020-12-30T12:13:14.123, 1.2E-7, [1, -1] for bytes, ...; see
// appendJavaString). The SQL client's tableau uses AppendSQL (CAST to STRING) instead.
func AppendPrint(dst []byte, v Value, t Type, loc *time.Location) []byte {
	return appendJavaString(dst, v, t)
}

const hexDigits = "0123456789abcdef"

func elemType(t Type) Type {
	if t.Elem != nil {
		return *t.Elem
	}
	return Type{}
}

func keyType(t Type) Type {
	if t.Key != nil {
		return *t.Key
	}
	return Type{}
}

func appendText(dst []byte, v Value, t Type, loc *time.Location, printing bool) []byte {
	switch v.T {
	case TagNull:
		return append(dst, "NULL"...)
	case TagBool:
		if v.I != 0 {
			return append(dst, "TRUE"...)
		}
		return append(dst, "FALSE"...)
	case TagInt:
		switch t.Kind {
		case IntervalYearMonth:
			return AppendIntervalYearMonth(dst, v.I)
		case IntervalDayTime:
			return AppendIntervalDayTime(dst, v.I)
		}
		return strconv.AppendInt(dst, v.I, 10)
	case TagFloat:
		if t.Kind == Float {
			return AppendJavaFloat(dst, v.Float())
		}
		return AppendJavaDouble(dst, v.Float())
	case TagString:
		return append(dst, v.S...)
	case TagBytes:
		if printing {
			dst = append(dst, 'x', '\'')
			for i := 0; i < len(v.S); i++ {
				dst = append(dst, hexDigits[v.S[i]>>4], hexDigits[v.S[i]&15])
			}
			return append(dst, '\'')
		}
		return append(dst, v.S...)
	case TagDecimal:
		return AppendDecimal(dst, v)
	case TagDate:
		return FormatDate(dst, v)
	case TagTime:
		return FormatTime(dst, v, timePrecision(t))
	case TagTimestamp:
		p := timestampPrecision(t)
		if t.Kind == TimestampLTZ {
			v = TimestampToLocal(v, loc)
		}
		return FormatTimestamp(dst, v, p)
	case TagArray, TagMap, TagRow:
		return appendComposite(dst, v, t, "(", func(dst []byte, v Value, t Type) []byte {
			return appendText(dst, v, t, loc, printing)
		})
	}
	return dst
}

// timePrecision is the fraction digits printed for a TIME type (Flink's TIME defaults to 0).
func timePrecision(t Type) int {
	if t.Kind == Time {
		return t.Precision
	}
	return 0
}

// timestampPrecision is the fraction digits printed for a timestamp type; 6 when the type is not a
// timestamp (an untyped value).
func timestampPrecision(t Type) int {
	if t.IsTimestamp() {
		return t.Precision
	}
	return 6
}

// AppendIntervalYearMonth appends months as Flink prints INTERVAL YEAR TO MONTH: +1-02, -0-03.
func AppendIntervalYearMonth(dst []byte, months int64) []byte {
	if months < 0 {
		dst = append(dst, '-')
		months = -months
	} else {
		dst = append(dst, '+')
	}
	dst = strconv.AppendInt(dst, months/12, 10)
	dst = append(dst, '-')
	return append2(dst, months%12)
}

// AppendIntervalDayTime appends millis as Flink prints INTERVAL DAY TO SECOND: +1 02:03:04.005.
func AppendIntervalDayTime(dst []byte, millis int64) []byte {
	if millis < 0 {
		dst = append(dst, '-')
		millis = -millis
	} else {
		dst = append(dst, '+')
	}
	secs := millis / 1000
	dst = strconv.AppendInt(dst, secs/86400, 10)
	dst = append(dst, ' ')
	dst = append2(dst, secs/3600%24)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	dst = append(dst, '.')
	ms := millis % 1000
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// AppendJavaDouble appends f as Java's Double.toString does (JDK 19+, shortest round-trip digits):
// decimal notation with at least one fraction digit when 1e-3 <= |f| < 1e7 (1.0, 0.001, 1234567.5),
// otherwise computerized scientific notation (1.0E7, 1.5E-4), and NaN, Infinity, -Infinity, 0.0, -0.0.
func AppendJavaDouble(dst []byte, f float64) []byte { return appendJava(dst, f, 64) }

// AppendJavaFloat is AppendJavaDouble for a FLOAT (Float.toString: shortest float32 digits).
func AppendJavaFloat(dst []byte, f float64) []byte { return appendJava(dst, float64(float32(f)), 32) }

func appendJava(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	// Shortest digits in the form d.dddde±xx. Java prints at least two significant digits and, when the
	// shortest form has one, picks the two-digit decimal closest to the exact value (4.9E-324, not 5.0E-324).
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bitSize)
	if len(e) < 3 || e[2] != '.' && e[1] != '.' {
		e = strconv.AppendFloat(buf[:0], f, 'e', 1, bitSize)
	}
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	// Split mantissa digits and exponent.
	var digits [24]byte
	nd := 0
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp, _ := strconv.Atoi(string(e[i+1:]))
	// Strip trailing zeros of the mantissa (shortest form has none except a lone "0").
	for nd > 1 && digits[nd-1] == '0' {
		nd--
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			// integer part: digits[0..exp]
			for k := 0; k <= exp; k++ {
				if k < nd {
					dst = append(dst, digits[k])
				} else {
					dst = append(dst, '0')
				}
			}
			dst = append(dst, '.')
			if exp+1 >= nd {
				return append(dst, '0')
			}
			return append(dst, digits[exp+1:nd]...)
		}
		dst = append(dst, '0', '.')
		for k := 0; k < -exp-1; k++ {
			dst = append(dst, '0')
		}
		return append(dst, digits[:nd]...)
	}
	dst = append(dst, digits[0], '.')
	if nd == 1 {
		dst = append(dst, '0')
	} else {
		dst = append(dst, digits[1:nd]...)
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}

// appendComposite appends an ARRAY as [a, b], a MAP as {k=v, ...} and a ROW as rowOpen + fields + a closing
// bracket matching rowOpen ("(" → ")", "+I[" → "]"), rendering the elements with elem.
func appendComposite(dst []byte, v Value, t Type, rowOpen string, elem func([]byte, Value, Type) []byte) []byte {
	switch v.T {
	case TagArray:
		et := elemType(t)
		dst = append(dst, '[')
		for i, e := range v.Array() {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = elem(dst, e, et)
		}
		return append(dst, ']')
	case TagMap:
		kt, vt := keyType(t), elemType(t)
		dst = append(dst, '{')
		if m := v.Map(); m != nil {
			for i := range m.Keys {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				dst = elem(dst, m.Keys[i], kt)
				dst = append(dst, '=')
				dst = elem(dst, m.Vals[i], vt)
			}
		}
		return append(dst, '}')
	}
	dst = append(dst, rowOpen...)
	for i, f := range v.Fields() {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		var ft Type
		if i < len(t.Fields) {
			ft = t.Fields[i].Type
		}
		dst = elem(dst, f, ft)
	}
	if rowOpen == "(" {
		return append(dst, ')')
	}
	return append(dst, ']')
}
