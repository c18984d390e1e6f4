// Command embed embeds Sluice in a Go program: it registers a Go iterator as a table and a Go function as a
// scalar UDF, runs a streaming aggregate over them and prints the changelog as it comes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sluicesql/sluice"
)

// orders yields a fixed stream of orders: customer, amount in cents.
func orders(yield func(sluice.Kind, []any) bool) {
	data := []struct {
		customer string
		cents    int64
	}{{"alice", 1250}, {"bob", 300}, {"alice", 799}, {"carol", 4200}, {"bob", 1}, {"alice", 5000}}
	for _, o := range data {
		if !yield(sluice.Insert, []any{o.customer, o.cents}) {
			return
		}
	}
}

// tier is the UDF: a customer's tier by the amount of one order.
func tier(cents int64) string {
	switch {
	case cents >= 4000:
		return "gold"
	case cents >= 1000:
		return "silver"
	}
	return "bronze"
}

func run(ctx context.Context, out io.Writer) error {
	eng, err := sluice.Open(sluice.WithRuntimeMode(sluice.Streaming), sluice.WithOption("table.local-time-zone", "UTC"))
	if err != nil {
		return err
	}
	defer eng.Close()
	cols := []sluice.Column{{Name: "customer", Type: "STRING"}, {Name: "cents", Type: "BIGINT"}}
	if err := eng.RegisterSource("orders", cols, orders, true); err != nil {
		return err
	}
	if err := eng.RegisterFunction("tier", tier); err != nil {
		return err
	}
	rows, err := eng.Query(ctx, `SELECT tier(cents) AS tier, COUNT(*) AS n, SUM(cents) AS cents FROM orders GROUP BY tier(cents)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var names []string
	for _, c := range rows.Columns() {
		names = append(names, c.Name+" "+c.Type)
	}
	fmt.Fprintf(out, "columns: %s\n", strings.Join(names, ", "))
	for kind, vals := range rows.All() {
		fmt.Fprintf(out, "%s %v\n", kind, vals)
	}
	return rows.Err()
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}
