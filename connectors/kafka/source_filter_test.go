package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// Records a pushed filter drops before full decoding (source_filter.go) still count as read: the job's
// RowsIn, the scan's RecordsOut and the Calc's RecordsIn are those without the pushed filter, at
// parallelism 1 and with the source as subtasks.
func TestFilterScanCountsDroppedRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	produceSpread(ctx, t, addr, "ev", 1000, 4)
	script := `CREATE TABLE ev (id BIGINT, extra STRING) WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json', 'scan.parallelism' = 'PAR');
CREATE TABLE hole (id BIGINT, extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT id, extra FROM ev WHERE MOD(id, 10) = 0;`
	for _, par := range []string{"1", "3"} {
		early := kafka.FilteredEarlyTotal()
		job := startJob(ctx, t, nil, strings.NewReplacer("ADDR", addr, "PAR", par).Replace(script))
		if err := job.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if n := kafka.FilteredEarlyTotal() - early; n != 900 {
			t.Fatalf("parallelism %s: the pushed filter dropped %d records early, want 900", par, n)
		}
		m := job.Metrics()
		if m.RowsIn != 1000 || m.RowsOut != 100 {
			t.Errorf("parallelism %s: RowsIn %d, RowsOut %d, want 1000 and 100", par, m.RowsIn, m.RowsOut)
		}
		seen := 0
		for _, op := range m.Operators {
			switch {
			case strings.HasPrefix(op.Name, "TableSourceScan"):
				seen++
				if op.RecordsIn != 1000 || op.RecordsOut != 1000 {
					t.Errorf("parallelism %s: %s in %d, out %d, want 1000 and 1000", par, op.Name, op.RecordsIn, op.RecordsOut)
				}
			case strings.HasPrefix(op.Name, "Calc"):
				seen++
				if op.RecordsIn != 1000 || op.RecordsOut != 100 {
					t.Errorf("parallelism %s: %s in %d, out %d, want 1000 and 100", par, op.Name, op.RecordsIn, op.RecordsOut)
				}
			}
		}
		if seen != 2 {
			t.Errorf("parallelism %s: no scan and Calc among the operators %+v", par, m.Operators)
		}
	}
}

// A pushed filter that keeps most records stops running first once it has seen preFilterSample records
// (a record that passes is decoded twice): of 40,000 records the filter keeps 90 %, so running first to
// the end would drop 4,000 early; the rows are those of the Calc either way.
func TestFilterScanStopsWhenFewDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	produceSpread(ctx, t, addr, "ev", 40000, 4)
	script := `CREATE TABLE ev (id BIGINT, extra STRING) WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE hole (id BIGINT, extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT id, extra FROM ev WHERE MOD(id, 10) <> 0;`
	early := kafka.FilteredEarlyTotal()
	job := startJob(ctx, t, nil, strings.ReplaceAll(script, "ADDR", addr))
	if err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	n := kafka.FilteredEarlyTotal() - early
	if n == 0 || n >= 2000 {
		t.Errorf("the pushed filter dropped %d records early, want some and fewer than 2000 (it should stop after its sample)", n)
	}
	if m := job.Metrics(); m.RowsIn != 40000 || m.RowsOut != 36000 {
		t.Errorf("RowsIn %d, RowsOut %d, want 40000 and 36000", m.RowsIn, m.RowsOut)
	}
	t.Logf("dropped early: %d", n)
}
