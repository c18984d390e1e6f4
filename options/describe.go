package options

import (
	"sort"
	"strings"
)

// Describe renders decls as a table for DESCRIBE and the docs, one option per row, sorted by key:
//
//	| Key | Required | Default | Type | Description |
//
// Enum types list their values; deprecated spellings are named in the description.
func Describe(decls []Decl) string {
	ds := Sorted(decls)
	var b strings.Builder
	b.WriteString("| Key | Required | Default | Type | Description |\n|---|---|---|---|---|\n")
	for _, d := range ds {
		key := d.Key
		if d.IsPrefix() {
			key += "*"
		}
		req := "optional"
		if d.Required {
			req = "required"
		}
		typ := d.Type.String()
		if d.Type == TypeEnum {
			typ += " (" + strings.Join(d.Enum, ", ") + ")"
		}
		desc := d.Description
		if len(d.Deprecated) > 0 {
			if desc != "" {
				desc += " "
			}
			desc += "Deprecated spellings: " + strings.Join(d.Deprecated, ", ") + "."
		}
		b.WriteString("| " + strings.Join([]string{key, req, d.Default, typ, strings.ReplaceAll(desc, "|", "\\|")}, " | ") + " |\n")
	}
	return b.String()
}

// Sorted returns a copy of decls sorted by key.
func Sorted(decls []Decl) []Decl {
	out := append([]Decl(nil), decls...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
