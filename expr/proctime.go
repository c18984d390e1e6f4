package expr

// IsProctime reports whether x is a PROCTIME() call: the processing-time attribute of a computed column
// (pt AS PROCTIME()) or of a view's select list.
func IsProctime(x Expr) bool {
	c, ok := x.(*callExpr)
	return ok && c.name == "PROCTIME" && len(c.args) == 0
}
