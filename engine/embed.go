package engine

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
)

// RegisterFunction makes a Go scalar function callable from SQL in this session under u.Name(). A later
// registration of the same name replaces the earlier one; statements already running keep the function
// they were planned with.
func (s *Session) RegisterFunction(u *expr.UDF) error {
	if u == nil {
		return fmt.Errorf("register function: nil UDF")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.functions == nil {
		s.functions = map[string]*expr.UDF{}
	}
	s.functions[u.Name()] = u
	delete(s.sqlFuncs, u.Name()) // a Go function replacing a CREATE FUNCTION one is no longer droppable from SQL
	return nil
}

// env builds the expression environment of one statement: the session time zone and the user functions
// (a copy, so that a later registration does not race with a running plan).
func (s *Session) env() *expr.Env {
	env := expr.NewEnv(s.location())
	if s.cfg.Now != nil {
		env.Now = s.cfg.Now
	}
	if len(s.functions) > 0 {
		env.Functions = make(map[string]*expr.UDF, len(s.functions))
		for k, v := range s.functions {
			env.Functions[k] = v
		}
	}
	return env
}

// Set validates and sets a session option, as SET 'key' = 'value' does.
func (s *Session) Set(key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set(key, value)
}
