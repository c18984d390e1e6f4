package nexmark_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice"
)

// The connector through the engine, in batch mode (events.num bounds it): the benchmark's physical schema,
// counted per event type. Event ids 2..1001: persons where id % 50 == 0 (20), auctions where it is 1..3 (60).
func TestCountsThroughTheEngine(t *testing.T) {
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
) WITH ('connector' = 'nexmark', 'events.num' = '1000', 'seed' = '1', 'first-event.rate' = '1000', 'next-event.rate' = '1000')`)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := eng.Query(ctx, "SELECT event_type, COUNT(*) FROM datagen GROUP BY event_type")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		got = append(got, fmt.Sprint(rows.Values()))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(got) != 3 {
		t.Fatalf("counts %v", got)
	}
	counts := map[string]bool{}
	for _, g := range got {
		counts[g] = true
	}
	if !counts["[0 20]"] || !counts["[1 60]"] || !counts["[2 920]"] {
		t.Fatalf("counts %v", got)
	}
	err = eng.Exec(ctx, `CREATE TABLE wrong (event_type INT) WITH ('connector' = 'nexmark')`)
	if err == nil {
		_, err = eng.Query(ctx, "SELECT * FROM wrong")
	}
	if err == nil || !strings.Contains(err.Error(), "does not have the schema of connector 'nexmark'") {
		t.Fatalf("wrong schema: %v", err)
	}
}
