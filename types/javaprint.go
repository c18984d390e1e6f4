package types

import (
	"strconv"
	"time"
)

// appendJava appends v the way Flink's print connector shows it: the Java toString of the value's external
// type (Row.toString of the converted row), so that output reads as Flink's does:
//
//	NULL → null, BOOLEAN → true/false, DECIMAL → BigDecimal.toString (1.2E-7 for tiny values),
//	DATE → 2020-12-30, TIME → LocalTime (12:13, 12:13:14, 12:13:14.123), TIMESTAMP → LocalDateTime
//	(2020-12-30T12:13:14.123), TIMESTAMP_LTZ → Instant (2020-12-30T12:13:14.123Z, in UTC),
//	BYTES → [1, -1] (signed bytes), INTERVAL → Period/Duration (P1Y2M, PT1H2M3.005S),
//	ARRAY → [a, b], MAP → {k=v}, ROW → +I[a, b].
func appendJavaString(dst []byte, v Value, t Type) []byte {
	switch v.T {
	case TagNull:
		return append(dst, "null"...)
	case TagBool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case TagInt:
		switch t.Kind {
		case IntervalYearMonth:
			return appendJavaPeriod(dst, v.I)
		case IntervalDayTime:
			return appendJavaDuration(dst, v.I)
		}
		return strconv.AppendInt(dst, v.I, 10)
	case TagBytes:
		dst = append(dst, '[')
		for i := 0; i < len(v.S); i++ {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = strconv.AppendInt(dst, int64(int8(v.S[i])), 10)
		}
		return append(dst, ']')
	case TagDecimal:
		return appendJavaBigDecimal(dst, v)
	case TagDate:
		return FormatDate(dst, v)
	case TagTime:
		return appendJavaLocalTime(dst, floorMod(v.I, nanosPerDay), false)
	case TagTimestamp:
		days := floorDiv(v.I, millisPerDay)
		nanos := floorMod(v.I, millisPerDay)*nanosPerMilli + int64(v.N)
		dst = FormatDate(dst, DateValue(days))
		dst = append(dst, 'T')
		if t.Kind == TimestampLTZ {
			dst = appendJavaLocalTime(dst, nanos, true)
			return append(dst, 'Z')
		}
		return appendJavaLocalTime(dst, nanos, false)
	case TagArray, TagMap, TagRow:
		return appendComposite(dst, v, t, "+I[", appendJavaString)
	}
	return appendText(dst, v, t, time.UTC, true)
}

// appendJavaLocalTime appends nanos of day as java.time.LocalTime.toString (HH:mm, then :ss when seconds or
// nanos are set, then the fraction in 3, 6 or 9 digits); with seconds (Instant.toString) the seconds are
// always printed.
func appendJavaLocalTime(dst []byte, nanos int64, seconds bool) []byte {
	secs := nanos / nanosPerSecond
	frac := nanos % nanosPerSecond
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	if !seconds && secs%60 == 0 && frac == 0 {
		return dst
	}
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	switch {
	case frac == 0:
		return dst
	case frac%1_000_000 == 0:
		return appendFraction(dst, frac, 3)
	case frac%1_000 == 0:
		return appendFraction(dst, frac, 6)
	}
	return appendFraction(dst, frac, 9)
}

// appendJavaBigDecimal appends v as java.math.BigDecimal.toString: plain digits, unless the adjusted
// exponent is below -6 (then 1.2E-7).
func appendJavaBigDecimal(dst []byte, v Value) []byte {
	scale := v.DecimalScale()
	digits := v.DecimalBig().String()
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	adjusted := -scale + len(digits) - 1
	if scale < 0 || adjusted >= -6 {
		return AppendDecimal(dst, v)
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, digits[0])
	if len(digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(adjusted), 10)
}

// appendJavaPeriod appends months as java.time.Period.toString: P1Y2M, P-3M, P0D.
func appendJavaPeriod(dst []byte, months int64) []byte {
	if months == 0 {
		return append(dst, "P0D"...)
	}
	dst = append(dst, 'P')
	if y := months / 12; y != 0 {
		dst = strconv.AppendInt(dst, y, 10)
		dst = append(dst, 'Y')
	}
	if m := months % 12; m != 0 {
		dst = strconv.AppendInt(dst, m, 10)
		dst = append(dst, 'M')
	}
	return dst
}

// appendJavaDuration appends millis as java.time.Duration.toString: PT1H2M3.005S, PT0S, PT-1.5S.
func appendJavaDuration(dst []byte, millis int64) []byte {
	if millis == 0 {
		return append(dst, "PT0S"...)
	}
	dst = append(dst, "PT"...)
	h := millis / 3_600_000
	rest := millis % 3_600_000
	m := rest / 60_000
	ms := rest % 60_000
	if h != 0 {
		dst = strconv.AppendInt(dst, h, 10)
		dst = append(dst, 'H')
	}
	if m != 0 {
		dst = strconv.AppendInt(dst, m, 10)
		dst = append(dst, 'M')
	}
	if ms != 0 {
		if ms < 0 {
			dst = append(dst, '-')
			ms = -ms
		}
		dst = strconv.AppendInt(dst, ms/1000, 10)
		if f := ms % 1000; f != 0 {
			dst = append(dst, '.')
			dst = append(dst, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
			for dst[len(dst)-1] == '0' {
				dst = dst[:len(dst)-1]
			}
		}
		dst = append(dst, 'S')
	}
	return dst
}
