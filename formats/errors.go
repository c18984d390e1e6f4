package formats

import "errors"

// ErrDecode is wrapped by errors about a message a decoder cannot read; ErrEncode by errors about a row an
// encoder cannot write. Both are data errors (the job fails on them unless the format is told to ignore
// them), unlike option and type errors at creation, which wrap options.ErrValidation.
var (
	ErrDecode = errors.New("cannot decode record")
	ErrEncode = errors.New("cannot encode record")
)

// RecordError is a decoding or encoding error of one record. Field is the path of the field at fault
// ("amount", "address.city", "tags[2]"), "" when the record as a whole is bad. It wraps ErrDecode or
// ErrEncode.
type RecordError struct {
	Field string
	Msg   string
	Err   error // ErrDecode or ErrEncode
}

func (e *RecordError) Error() string { return e.Msg }
func (e *RecordError) Unwrap() error { return e.Err }
