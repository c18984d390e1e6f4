package sql

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// Dump prints an AST as a compact indented tree for tests and debugging: one line per node with its type,
// its simple fields as key=value and its position (@line:col), then its child nodes indented below it, e.g.
//
//	CreateTable Name=orders @1:1
//	  Columns:
//	    ColumnDef Name=id Type=BIGINT TypePos=@1:23 @1:20
//
// Zero-valued fields are left out; statements' Text is left out (it is the statement's source).
func Dump(n Node) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(n), 0)
	return b.String()
}

var (
	posType     = reflect.TypeFor[Pos]()
	typeType    = reflect.TypeFor[types.Type]()
	identType   = reflect.TypeFor[Ident]()
	objNameType = reflect.TypeFor[ObjectName]()
	optionType  = reflect.TypeFor[Option]()
	litKindType = reflect.TypeFor[LitKind]()
	colKindType = reflect.TypeFor[ColumnKind]()
)

func fmtPos(p Pos) string { return "@" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

var litKindNames = [...]string{"Null", "Bool", "Integer", "Decimal", "Float", "String", "Binary", "Date", "Time",
	"Timestamp", "TimestampLTZ"}

var colKindNames = [...]string{"Physical", "Metadata", "Computed"}

// dumpString prints s raw when that is unambiguous on a key=value line, else Go-quoted.
func dumpString(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\r\"=[]@") {
		return strconv.Quote(s)
	}
	return s
}

// simple formats a value that fits on the node's line; ok is false for node-valued fields.
func simple(v reflect.Value) (string, bool) {
	switch v.Type() {
	case posType:
		return fmtPos(v.Interface().(Pos)), true
	case typeType:
		return dumpString(v.Interface().(types.Type).String()), true
	case identType:
		id := v.Interface().(Ident)
		return dumpString(id.Name) + fmtPos(id.P), true
	case objNameType:
		o := v.Interface().(ObjectName)
		return o.String() + fmtPos(o.P), true
	case optionType:
		o := v.Interface().(Option)
		return fmt.Sprintf("%s=%s%s", strconv.Quote(o.Key), strconv.Quote(o.Value), fmtPos(o.P)), true
	case litKindType:
		k := int(v.Uint())
		if k < len(litKindNames) {
			return litKindNames[k], true
		}
	case colKindType:
		k := int(v.Uint())
		if k < len(colKindNames) {
			return colKindNames[k], true
		}
	}
	switch v.Kind() {
	case reflect.String:
		return dumpString(v.String()), true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	case reflect.Int, reflect.Uint8:
		return fmt.Sprint(v.Interface()), true
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Bool {
			return strconv.FormatBool(v.Elem().Bool()), true
		}
	case reflect.Slice:
		et := v.Type().Elem()
		if et.Kind() == reflect.String || et == identType || et == optionType {
			parts := make([]string, v.Len())
			for i := range parts {
				parts[i], _ = simple(v.Index(i))
			}
			return "[" + strings.Join(parts, " ") + "]", true
		}
	}
	return "", false
}

func dumpValue(b *strings.Builder, v reflect.Value, indent int) {
	dumpNode(b, v, indent, strings.Repeat("  ", indent))
}

// dumpNode prints a node's line after prefix, then its children at indent+1.
func dumpNode(b *strings.Builder, v reflect.Value, indent int, prefix string) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.WriteString(prefix + "<nil>\n")
			return
		}
		v = v.Elem()
	}
	var head []string
	var pos string
	type child struct {
		name string
		v    reflect.Value
	}
	var children []child
	var collect func(v reflect.Value)
	collect = func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f, fv := t.Field(i), v.Field(i)
			if f.Anonymous {
				collect(fv)
				continue
			}
			if f.Name == "P" && f.Type == posType {
				pos = fmtPos(fv.Interface().(Pos))
				continue
			}
			if f.Name == "Text" && t.Name() == "StmtBase" || !f.IsExported() || fv.IsZero() {
				continue
			}
			if f.Type == posType && f.Name == "ValuePos" {
				continue
			}
			if f.Name == "Parts" || f.Name == "Qualifier" {
				head = append(head, f.Name+"="+JoinIdents(fv.Interface().([]string)))
				continue
			}
			if s, ok := simple(fv); ok {
				head = append(head, f.Name+"="+s)
				continue
			}
			if fv.Kind() == reflect.Slice && fv.Len() == 0 {
				continue
			}
			children = append(children, child{f.Name, fv})
		}
	}
	collect(v)
	line := v.Type().Name()
	if len(head) > 0 {
		line += " " + strings.Join(head, " ")
	}
	if pos != "" {
		line += " " + pos
	}
	b.WriteString(prefix + line + "\n")
	for _, c := range children {
		dumpChild(b, c.name, c.v, indent+1)
	}
}

func dumpChild(b *strings.Builder, name string, v reflect.Value, indent int) {
	pad := strings.Repeat("  ", indent)
	if v.Kind() != reflect.Slice {
		dumpNode(b, v, indent, pad+name+": ")
		return
	}
	b.WriteString(pad + name + ":\n")
	for i := 0; i < v.Len(); i++ {
		e := v.Index(i)
		if e.Kind() == reflect.Slice { // [][]Expr: rows and grouping sets
			b.WriteString(pad + "  - (" + strconv.Itoa(e.Len()) + ")\n")
			for j := 0; j < e.Len(); j++ {
				dumpValue(b, e.Index(j), indent+2)
			}
			continue
		}
		dumpValue(b, e, indent+1)
	}
}
