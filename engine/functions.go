package engine

import (
	"context"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/udf/wasmudf"
)

// A user function's kind decides which DROP removes it, as Flink's function catalog does.
const (
	funcCatalog         = "catalog"          // CREATE FUNCTION
	funcTemporary       = "temporary"        // CREATE TEMPORARY FUNCTION
	funcTemporarySystem = "temporary system" // CREATE TEMPORARY SYSTEM FUNCTION
)

// sqlFunction is a function created by CREATE FUNCTION (Go functions of RegisterFunction have none).
type sqlFunction struct {
	kind string
	wasm *wasmudf.Function
}

func funcKind(temporary, system bool) string {
	switch {
	case system:
		return funcTemporarySystem
	case temporary:
		return funcTemporary
	}
	return funcCatalog
}

// functionName checks a (possibly qualified) function name against Sluice's one catalog and database and
// returns its upper-case simple name.
func functionName(n sql.ObjectName) (string, error) {
	parts := n.Parts
	want := []string{"default_catalog", "default_database"}
	for i, p := range parts[:len(parts)-1] {
		if w := want[len(want)-len(parts)+1+i]; p != w {
			return "", sql.Errorf(n.P, catalog.ErrNotFound, "%s '%s' does not exist; Sluice has one catalog 'default_catalog' with one database 'default_database'",
				map[bool]string{true: "catalog", false: "database"}[w == "default_catalog"], p)
		}
	}
	return strings.ToUpper(parts[len(parts)-1]), nil
}

func isBuiltinFunction(up string) bool {
	return slices.Contains(expr.FunctionNames(), up) || slices.Contains(planner.AggregateFunctionNames(), up)
}

// createFunction runs CREATE [TEMPORARY [SYSTEM]] FUNCTION ... LANGUAGE WASM USING JAR 'module.wasm'.
func (s *Session) createFunction(ctx context.Context, st *sql.CreateFunction) (*Result, error) {
	name, err := functionName(st.Name)
	if err != nil {
		return nil, err
	}
	kind := funcKind(st.Temporary, st.System)
	if _, exists := s.functions[name]; exists {
		if st.IfNotExists {
			return ok("[INFO] Execute statement succeed."), nil
		}
		return nil, sql.Errorf(st.Name.P, catalog.ErrAlreadyExists, "Could not register %s function. A function named '%s' does already exist; drop it first or write CREATE FUNCTION IF NOT EXISTS", kind, st.Name)
	}
	if kind != funcTemporarySystem && isBuiltinFunction(name) {
		return nil, sql.Errorf(st.Name.P, ErrValidation, "%s is a built-in function, which Flink resolves before %s functions, so this one could never be called; create it with CREATE TEMPORARY SYSTEM FUNCTION to shadow the built-in, or choose another name", name, kind)
	}
	switch st.Language {
	case "WASM":
	case "", "JAVA", "SCALA", "PYTHON":
		lang, pos := st.Language, st.LangPos
		if lang == "" {
			lang, pos = "JAVA (the default)", st.IdentPos
		}
		return nil, sql.Errorf(pos, ErrValidation, "CREATE FUNCTION %s: LANGUAGE %s functions cannot run in Sluice, which has no JVM or Python; compile the function to WebAssembly and declare it with LANGUAGE WASM USING JAR 'file:///path/module.wasm' (docs/UDF.md)", st.Name, lang)
	default:
		return nil, sql.Errorf(st.LangPos, ErrValidation, "CREATE FUNCTION %s: unknown LANGUAGE %s; Sluice runs LANGUAGE WASM", st.Name, st.Language)
	}
	if len(st.Using) != 1 {
		pos := st.P
		if len(st.Using) > 1 {
			pos = st.Using[1].P
		}
		return nil, sql.Errorf(pos, ErrValidation, "CREATE FUNCTION %s: a LANGUAGE WASM function needs exactly one module: USING JAR 'file:///path/module.wasm'", st.Name)
	}
	timeout, _, err := sessionDuration(s.opts, "sluice.udf.wasm.call-timeout")
	if err != nil {
		return nil, err
	}
	mem, _, err := sessionMemory(s.opts, "sluice.udf.wasm.memory-limit")
	if err != nil {
		return nil, err
	}
	jar := st.Using[0]
	u, f, err := wasmudf.Load(ctx, st.Name.Parts[len(st.Name.Parts)-1], st.Identifier, jar.Path, wasmudf.Config{CallTimeout: timeout, MemoryLimit: mem})
	if err != nil {
		pos := jar.P
		if strings.Contains(err.Error(), "'"+st.Identifier+"'") { // about the export, not the file
			pos = st.IdentPos
		}
		return nil, sql.Errorf(pos, ErrValidation, "CREATE FUNCTION %s: %v", st.Name, err)
	}
	if s.functions == nil {
		s.functions = map[string]*expr.UDF{}
	}
	if s.sqlFuncs == nil {
		s.sqlFuncs = map[string]*sqlFunction{}
	}
	s.functions[name] = u
	s.sqlFuncs[name] = &sqlFunction{kind: kind, wasm: f}
	return ok("[INFO] Execute statement succeed."), nil
}

// dropFunction runs DROP [TEMPORARY [SYSTEM]] FUNCTION [IF EXISTS] name. Jobs already running keep calling
// the function; its module instance is released once no plan uses it.
func (s *Session) dropFunction(st *sql.DropFunction) (*Result, error) {
	name, err := functionName(st.Name)
	if err != nil {
		return nil, err
	}
	kind := funcKind(st.Temporary, st.System)
	_, exists := s.functions[name]
	sf := s.sqlFuncs[name]
	switch {
	case !exists:
		if st.IfExists {
			return ok("[INFO] Execute statement succeed."), nil
		}
		what := map[string]string{funcCatalog: "Function", funcTemporary: "Temporary catalog function", funcTemporarySystem: "Temporary system function"}[kind]
		return nil, sql.Errorf(st.Name.P, catalog.ErrNotFound, "%s %s doesn't exist", what, st.Name)
	case sf == nil:
		return nil, sql.Errorf(st.Name.P, ErrValidation, "function %s is registered through the Go API (Session.RegisterFunction) and cannot be dropped from SQL", name)
	case sf.kind != kind:
		return nil, sql.Errorf(st.Name.P, ErrValidation, "function %s is a %s function; drop it with DROP %sFUNCTION", st.Name, sf.kind, dropWords(sf.kind))
	}
	delete(s.functions, name)
	delete(s.sqlFuncs, name)
	return ok("[INFO] Execute statement succeed."), nil
}

func dropWords(kind string) string {
	switch kind {
	case funcTemporarySystem:
		return "TEMPORARY SYSTEM "
	case funcTemporary:
		return "TEMPORARY "
	}
	return ""
}
