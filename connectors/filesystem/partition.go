package filesystem

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/types"
)

// escapePath escapes a partition value for a directory name as Flink's PartitionPathUtils.escapePathName.
func escapePath(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func needsEscape(c byte) bool {
	if c < ' ' || c == 0x7f {
		return true
	}
	switch c {
	case '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '{', '[', ']', '^':
		return true
	}
	return false
}

func unescapePath(s string) string {
	if !strings.ContainsRune(s, '%') {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, ok := unhex(s[i+1]); ok {
				if l, ok := unhex(s[i+2]); ok {
					b.WriteByte(h<<4 | l)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// partitionText is the text of a partition value in a directory name ("" for NULL).
func partitionText(v types.Value, t types.Type) (string, error) {
	if v.IsNull() {
		return "", nil
	}
	if v.T == types.TagString {
		return v.S, nil
	}
	s, err := types.Cast(v, t, types.StringType(), time.UTC)
	if err != nil {
		return "", err
	}
	return s.S, nil
}

// partitionValue parses a directory's partition text as a value of t (the default name is NULL).
func (s *settings) partitionValue(text string, t types.Type) (types.Value, error) {
	if text == s.defaultPart {
		return types.NullValue, nil
	}
	if t.IsString() {
		return types.StringValue(text), nil
	}
	return types.Cast(types.StringValue(text), types.StringType(), t, time.UTC)
}

// timeExtractor is Flink's default partition time extractor: the timestamp pattern with '$name' replaced
// by the partition values, parsed with the formatter.
type timeExtractor struct {
	pattern string
	layout  string // Go layout of the Java formatter
	dflt    bool   // the default formatter: a date alone is accepted too
}

func newTimeExtractor(pattern, formatter string) (*timeExtractor, error) {
	layout, err := javaLayout(formatter)
	if err != nil {
		return nil, optErr(ExtractorFormatter.Key(), "Invalid value for option 'partition.time-extractor.timestamp-formatter': %v", err)
	}
	return &timeExtractor{pattern: pattern, layout: layout, dflt: formatter == "yyyy-MM-dd HH:mm:ss"}, nil
}

// javaLayout converts a DateTimeFormatter pattern of the letters y, M, d, H, m, s, S into a Go layout.
func javaLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		j := i
		for j < len(p) && p[j] == c {
			j++
		}
		n := j - i
		switch {
		case c == 'y' && (n == 4 || n == 2):
			b.WriteString(map[int]string{4: "2006", 2: "06"}[n])
		case c == 'M' && n <= 2:
			b.WriteString(map[int]string{1: "1", 2: "01"}[n])
		case c == 'd' && n <= 2:
			b.WriteString(map[int]string{1: "2", 2: "02"}[n])
		case c == 'H' && n <= 2:
			b.WriteString("15")
		case c == 'm' && n <= 2:
			b.WriteString(map[int]string{1: "4", 2: "04"}[n])
		case c == 's' && n <= 2:
			b.WriteString(map[int]string{1: "5", 2: "05"}[n])
		case c == 'S' && i > 0 && p[i-1] == '.':
			b.WriteString(strings.Repeat("0", n)) // after the literal '.', Go's fractional seconds
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			return "", fmt.Errorf("pattern letter '%s' is not supported (supported: yyyy, yy, MM, M, dd, d, HH, mm, ss, S...)", p[i:j])
		default:
			b.WriteString(p[i:j])
		}
		i = j
	}
	return b.String(), nil
}

// extract returns the partition's time as a wall clock (milliseconds of a TIMESTAMP).
func (e *timeExtractor) extract(keys, values []string) (int64, error) {
	text := ""
	if e.pattern == "" {
		if len(values) == 0 {
			return 0, fmt.Errorf("no partition value to extract a time from")
		}
		text = values[0]
	} else {
		text = e.pattern
		// Longer names first, so that $dt does not replace the start of $dth.
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		for i := range order {
			for j := i + 1; j < len(order); j++ {
				if len(keys[order[j]]) > len(keys[order[i]]) {
					order[i], order[j] = order[j], order[i]
				}
			}
		}
		for _, i := range order {
			text = strings.ReplaceAll(text, "$"+keys[i], values[i])
		}
	}
	t, err := time.ParseInLocation(e.layout, text, time.UTC)
	if err != nil && e.dflt {
		t, err = time.ParseInLocation("2006-01-02", text, time.UTC)
	}
	if err != nil {
		return 0, fmt.Errorf("partition time '%s' does not match the formatter (option 'partition.time-extractor.timestamp-formatter'): %v", text, err)
	}
	return t.UnixMilli(), nil
}
