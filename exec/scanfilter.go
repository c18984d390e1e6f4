package exec

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/vec"
)

// ScanFilter is a Calc's filter compiled to the Calc's batch kernels for a scan that runs it before the
// rest of a record is decoded (connectors.RowSelector).
type ScanFilter struct {
	filter expr.Expr
	v      *calcVec
}

// CompileScanFilter compiles filter; nil when it has no vector form.
func CompileScanFilter(filter expr.Expr) *ScanFilter {
	if filter == nil {
		return nil
	}
	v := compileCalc(nil, filter)
	if v == nil || v.filter == nil {
		return nil
	}
	return &ScanFilter{filter: filter, v: v}
}

// Select returns the rows of b that the filter keeps (TRUE; not NULL or FALSE). An error (an evaluation
// error, or kernels that bail) means the caller keeps every row.
func (f *ScanFilter) Select(b *vec.Batch) ([]int32, error) {
	return f.v.run(b)
}

// Fresh compiles the filter again: kernels keep per-batch state, so each goroutine needs its own.
func (f *ScanFilter) Fresh() connectors.RowSelector {
	return CompileScanFilter(f.filter)
}
