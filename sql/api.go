// Errors and identifier helpers; the package documentation is in doc.go.

package sql

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is wrapped by every *ParseError.
var ErrSyntax = errors.New("syntax error")

// ParseError is a positioned error in SQL text. Line and Col are 1-based, in the user's original text.
type ParseError struct {
	Line, Col int
	Msg       string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }
func (e *ParseError) Unwrap() error { return ErrSyntax }

// JoinIdents joins identifier parts with dots, quoting with backticks the parts that need it.
func JoinIdents(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(QuoteIdentIfNeeded(p))
	}
	return b.String()
}

// QuoteIdentIfNeeded returns name, backtick-quoted when it is not a plain identifier.
func QuoteIdentIfNeeded(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Error is a positioned error about a statement found after parsing (binding, validation, planning). Err is
// the sentinel it wraps (e.g. options.ErrValidation, catalog.ErrNotFound); Msg reads as one sentence for the
// user.
type Error struct {
	Pos Pos
	Msg string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg) }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a positioned error wrapping sentinel.
func Errorf(p Pos, sentinel error, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// Position returns the line and column of a positioned error (*ParseError or *Error) anywhere in err's
// chain, and the message without the position prefix.
func Position(err error) (line, col int, msg string, ok bool) {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Line, pe.Col, pe.Msg, true
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Pos.Line, e.Pos.Col, e.Msg, true
	}
	return 0, 0, "", false
}
