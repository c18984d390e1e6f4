package nexmark_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice"
)

// Through the engine, a query reading some members of the event ROWs gets the source's projection (EXPLAIN
// shows it on the scan) and the values a query reading the whole events gets.
func TestProjectionThroughTheEngine(t *testing.T) {
	eng, err := sluice.Open(sluice.WithRuntimeMode(sluice.Batch))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = eng.Exec(ctx, `CREATE TABLE datagen (
    event_type int,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, `+"`dateTime`"+` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `+"`dateTime`"+` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `+"`dateTime`"+` TIMESTAMP(3), extra VARCHAR>
) WITH ('connector' = 'nexmark', 'events.num' = '2000', 'seed' = '3')`)
	if err != nil {
		t.Fatal(err)
	}
	lines := func(q string) []string {
		rows, err := eng.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			out = append(out, fmt.Sprint(rows.Values()...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	const projected = "SELECT event_type, person.emailAddress, auction.description, auction.seller, bid.price, bid.extra FROM datagen"
	plan := strings.Join(lines("EXPLAIN "+projected), "\n")
	if !strings.Contains(plan, "project=[event_type, person.emailAddress, auction.description, auction.seller, bid.price, bid.extra]") {
		t.Fatalf("EXPLAIN does not show the projection on the nexmark scan:\n%s", plan)
	}
	got := lines(projected)
	// The same members, from whole events: a CAST of each ROW reads it whole, so nothing is projected.
	const full = `SELECT event_type, p.emailAddress, a.description, a.seller, b.price, b.extra FROM (
  SELECT event_type, person AS p, auction AS a, bid AS b, CAST(person AS STRING) || CAST(auction AS STRING) || CAST(bid AS STRING) AS w FROM datagen) WHERE w IS NULL OR w IS NOT NULL`
	if plan := strings.Join(lines("EXPLAIN "+full), "\n"); strings.Contains(plan, "project=[") {
		t.Fatalf("the whole-event query is projected:\n%s", plan)
	}
	whole := lines(full)
	if len(got) != 2000 || !slices.Equal(got, whole) {
		t.Fatalf("projected events differ from whole events (%d and %d rows)", len(got), len(whole))
	}
}
