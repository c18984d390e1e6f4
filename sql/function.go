package sql

import "strings"

// CreateFunction is Flink's
//
//	CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS] [[catalog.]db.]name AS 'identifier'
//	  [LANGUAGE JAVA|SCALA|PYTHON|WASM] [USING JAR 'path' [, JAR 'path']*]
//
// Sluice runs LANGUAGE WASM functions: identifier names the module's export and the JAR is the module.
type CreateFunction struct {
	StmtBase
	Temporary   bool
	System      bool
	IfNotExists bool
	Name        ObjectName
	Identifier  string
	IdentPos    Pos
	Language    string // upper case; "" when not given (Flink's default is JAVA)
	LangPos     Pos
	Using       []FunctionResource
}

// FunctionResource is one JAR 'path' of USING.
type FunctionResource struct {
	P    Pos
	Path string
}

// DropFunction is DROP [TEMPORARY [SYSTEM]] FUNCTION [IF EXISTS] [[catalog.]db.]name.
type DropFunction struct {
	StmtBase
	Temporary bool
	System    bool
	IfExists  bool
	Name      ObjectName
}

func (s *CreateFunction) setBase(b StmtBase) { s.StmtBase = b }
func (s *DropFunction) setBase(b StmtBase)   { s.StmtBase = b }

// createFunction parses the rest of CREATE [TEMPORARY [SYSTEM]] FUNCTION (FUNCTION and, when system, SYSTEM
// were the last two tokens).
func (p *parser) createFunction(temporary, system bool) *CreateFunction {
	cf := &CreateFunction{Temporary: temporary, System: system}
	if system && !temporary {
		p.fail(p.toks[p.i-2].pos, "CREATE SYSTEM FUNCTION is not supported, system functions can only be registered as temporary function, you can use CREATE TEMPORARY SYSTEM FUNCTION instead.")
		return cf
	}
	cf.IfNotExists = p.ifNotExists()
	cf.Name = p.objectName()
	if system && len(cf.Name.Parts) > 1 {
		p.fail(cf.Name.P, "a temporary system function has a simple name, not %s", cf.Name)
		return cf
	}
	p.expectKw("AS")
	cf.Identifier, cf.IdentPos = p.stringLit()
	if p.acceptKw("LANGUAGE") {
		t := p.tok()
		cf.LangPos = t.pos
		cf.Language = strings.ToUpper(p.ident().Name)
	}
	if p.acceptKw("USING") {
		for {
			t := p.tok()
			if !t.isKw("JAR") {
				p.want(`"JAR"`)
				p.unexpected()
				return cf
			}
			p.advance()
			path, pos := p.stringLit()
			cf.Using = append(cf.Using, FunctionResource{P: pos, Path: path})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	return cf
}

// dropFunction parses the rest of DROP [TEMPORARY [SYSTEM]] FUNCTION.
func (p *parser) dropFunction(temporary, system bool) *DropFunction {
	df := &DropFunction{Temporary: temporary, System: system}
	if system && !temporary {
		p.fail(p.toks[p.i-2].pos, "DROP SYSTEM FUNCTION is not supported, system functions can only be dropped as temporary function, you can use DROP TEMPORARY SYSTEM FUNCTION instead.")
		return df
	}
	if p.acceptKw("IF") {
		p.expectKw("EXISTS")
		df.IfExists = true
	}
	df.Name = p.objectName()
	return df
}
