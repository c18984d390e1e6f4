package json

import (
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds nesting, as Jackson's default StreamReadConstraints do.
const maxDepth = 1000

// scanner reads JSON tokens from a byte slice. It validates syntax as it goes.
type scanner struct {
	b []byte
	i int
}

// syntaxError is a malformed message; the record cannot be read at all.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func (s *scanner) errf(format string, args ...any) error {
	return &syntaxError{off: s.i, msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) unexpected() error {
	if s.i >= len(s.b) {
		return s.errf("unexpected end of input")
	}
	c := s.b[s.i]
	if c < utf8.RuneSelf && c >= 0x20 {
		return s.errf("unexpected character '%c'", c)
	}
	return s.errf("unexpected byte 0x%02x", c)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it (0 at the end). Compact JSON has no space
// between tokens: a byte above ' ' is returned without the whitespace loop.
func (s *scanner) peek() byte {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return s.b[s.i]
	}
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return nil
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return nil
	}
	return s.unexpected()
}

// strStop marks the bytes that end the plain run of a string: the closing quote, a backslash and the
// control characters (an error).
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// literal consumes true, false or null.
func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return nil
	}
	return s.unexpected()
}

// number consumes a JSON number and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	b := s.b
	i := s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		s.i = i
		return nil, s.unexpected()
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return nil, s.unexpected()
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return nil, s.unexpected()
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			s.i = i
			return nil, s.unexpected()
		}
	}
	s.i = i
	return b[start:i], nil
}

// str consumes a string (s.b[s.i] == '"') and returns its content. When the string has escapes, the
// content is unescaped into *scratch (reset first) and the result aliases it; otherwise it aliases the input.
func (s *scanner) str(scratch *[]byte) ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	b := s.b
	for i := start; i < len(b); i++ {
		c := b[i]
		if !strStop[c] {
			continue
		}
		if c == '"' {
			s.i = i + 1
			return b[start:i], nil
		}
		if c == '\\' {
			s.i = i
			return s.strEscaped(start, scratch)
		}
		if c < 0x20 {
			s.i = i
			return nil, s.errf("control character 0x%02x in string", c)
		}
	}
	s.i = len(b)
	return nil, s.errf("unterminated string")
}

func (s *scanner) strEscaped(start int, scratch *[]byte) ([]byte, error) {
	out := append((*scratch)[:0], s.b[start:s.i]...)
	b := s.b
	i := s.i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			*scratch = out
			return out, nil
		case c < 0x20:
			s.i = i
			return nil, s.errf("control character 0x%02x in string", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i:])
			if !ok {
				s.i = i
				return nil, s.errf("invalid \\u escape")
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
				if r2, ok := hex4(b[i+2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.i = i - 1
			return nil, s.errf("invalid escape '\\%c'", e)
		}
	}
	s.i = len(b)
	*scratch = out
	return nil, s.errf("unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skip consumes one value of any kind, validating it.
func (s *scanner) skip(depth int, scratch *[]byte) error {
	if depth > maxDepth {
		return s.errf("nesting deeper than %d levels", maxDepth)
	}
	switch s.peek() {
	case '"':
		_, err := s.str(scratch)
		return err
	case '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			if s.peek() != '"' {
				return s.unexpected()
			}
			if _, err := s.str(scratch); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth+1, scratch); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return nil
			default:
				return s.unexpected()
			}
		}
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth+1, scratch); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.unexpected()
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, err := s.number()
		return err
	}
	return s.unexpected()
}

// compact appends the JSON text b with insignificant whitespace removed.
func compact(dst, b []byte) []byte {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if in {
			dst = append(dst, c)
			if c == '\\' && i+1 < len(b) {
				i++
				dst = append(dst, b[i])
			} else if c == '"' {
				in = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			in = true
		}
		dst = append(dst, c)
	}
	return dst
}
