package sql

// NamedArg is a named argument of a call, name => value (Flink's window table functions:
// TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '10' MINUTES)). Name is as written
// (the binder matches parameter names case-insensitively, as Flink).
type NamedArg struct {
	P     Pos
	Name  string
	Value Expr
}

func (e *NamedArg) Position() Pos { return e.P }
func (*NamedArg) expr()           {}
