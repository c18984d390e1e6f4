package nexmark_test

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice"
)

// lines collects what a print sink writes.
type lines struct {
	ch chan []byte
}

func (l *lines) Write(p []byte) (int, error) {
	l.ch <- append([]byte(nil), p...)
	return len(p), nil
}

var countLine = regexp.MustCompile(`^\+[IU]\[(\d), (\d+)\]$`)

// latest drains what was written so far and returns the last count printed per event type.
func (l *lines) latest(counts map[string]int) {
	for {
		select {
		case b := <-l.ch:
			for _, line := range strings.Split(string(b), "\n") {
				if m := countLine.FindStringSubmatch(line); m != nil {
					counts[m[1]], _ = strconv.Atoi(m[2])
				}
			}
		default:
			return
		}
	}
}

// A streaming job over the source, stopped with a savepoint halfway and resumed from it: the counts per event
// type at the end are exact (event ids 2..30001: 600 persons, 1800 auctions, 27600 bids), so the resumed
// source continued at the next event, with no gap and no duplicate.
func TestSavepointResumesTheSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &lines{ch: make(chan []byte, 1<<16)}
	e, err := sluice.Open(sluice.WithRuntimeMode(sluice.Streaming), sluice.WithOutput(out, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.Exec(ctx, `CREATE TABLE datagen (
    event_type int,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, `+"`dateTime`"+` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `+"`dateTime`"+` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `+"`dateTime`"+` TIMESTAMP(3), extra VARCHAR>
) WITH ('connector' = 'nexmark', 'events.num' = '30000', 'first-event.rate' = '10000', 'next-event.rate' = '10000',
        'max-emit-speed' = 'false', 'seed' = '5');
CREATE TABLE counts (event_type INT, n BIGINT) WITH ('connector' = 'print')`)
	if err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO counts SELECT event_type, COUNT(*) FROM datagen GROUP BY event_type`
	job, err := e.Execute(ctx, insert)
	if err != nil {
		t.Fatal(err)
	}
	// The source paces 30,000 events over 3 s: stop as soon as the first counts are printed.
	before := map[string]int{}
	for before["2"] == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		out.latest(before)
	}
	path, err := job.StopWithSavepoint(ctx, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	out.latest(before)
	if before["2"] == 0 || before["2"] >= 27600 {
		t.Fatalf("counts when stopped %v: the job was not stopped halfway", before)
	}
	if err := e.Exec(ctx, `SET 'execution.savepoint.path' = '`+path+`'`); err != nil {
		t.Fatal(err)
	}
	job2, err := e.Execute(ctx, insert)
	if err != nil {
		t.Fatalf("restore the savepoint: %v", err)
	}
	if err := job2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	final := map[string]int{}
	out.latest(final)
	if final["0"] != 600 || final["1"] != 1800 || final["2"] != 27600 {
		t.Fatalf("final counts %v (stopped at %v), want 0: 600, 1: 1800, 2: 27600", final, before)
	}
}
