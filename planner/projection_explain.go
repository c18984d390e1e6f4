package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// describePushed is the scan's EXPLAIN line with the projection pushed into its source, as Flink prints it:
// TableSourceScan(table=[[default_catalog, default_database, t, project=[a, bid.price]]], fields=[...]). The
// scan keeps its width (fields lists every column; those not projected are NULL). A ROW column read only
// through some of its members lists those members.
func (n *Scan) describePushed() string {
	sc := n
	if n.ReusedBy != nil {
		sc = n.ReusedBy
	}
	if sc.Pushed == nil {
		return n.Describe()
	}
	var cols []string
	pushedColumns(sc.Pushed, n.Out, "", &cols)
	return fmt.Sprintf("TableSourceScan(table=[[default_catalog, default_database, %s, project=[%s]]], fields=[%s])",
		n.Table.Name, strings.Join(cols, ", "), names(n.Out))
}

// pushedColumns appends the names of the columns (prefix.member for ROW members) p needs of fields.
func pushedColumns(p *formats.Projection, fields []Field, prefix string, out *[]string) {
	for i, f := range fields {
		if !p.Needs(i) {
			continue
		}
		sub := p.Of(i)
		if sub == nil || f.Type.Kind != types.Row {
			*out = append(*out, prefix+f.Name)
			continue
		}
		members := make([]Field, len(f.Type.Fields))
		for k, m := range f.Type.Fields {
			members[k] = Field{Name: m.Name, Type: m.Type}
		}
		pushedColumns(sub, members, prefix+f.Name+".", out)
	}
}

// describePushed is the lookup join's EXPLAIN line with the projection pushed into its lookup source:
// LookupJoin(table=[default_catalog.default_database.dim, project=[k, name]], ...). The join keeps its
// width (select lists every column; the dim columns not projected are NULL).
func (n *LookupJoin) describePushed() string {
	d := n.Describe()
	if n.Pushed == nil {
		return d
	}
	phys := n.Table.PhysicalColumns()
	fields := make([]Field, len(phys))
	for i, c := range phys {
		fields[i] = Field{Name: c.Name, Type: c.Type}
	}
	var cols []string
	pushedColumns(n.Pushed, fields, "", &cols)
	table := "table=[" + qualified(n.Table.Name)
	return strings.Replace(d, table+"]", table+", project=["+strings.Join(cols, ", ")+"]]", 1)
}

// pushedAny reports whether projection pushdown handed a projection to a source of a scan or lookup join
// in n.
func pushedAny(n Node) bool {
	if lj, ok := n.(*LookupJoin); ok && lj.Pushed != nil {
		return true
	}
	if sc, ok := n.(*Scan); ok {
		if sc.ReusedBy != nil {
			sc = sc.ReusedBy
		}
		return sc.Pushed != nil
	}
	for _, in := range n.Inputs() {
		if pushedAny(in) {
			return true
		}
	}
	return false
}
