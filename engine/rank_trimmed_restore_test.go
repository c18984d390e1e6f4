package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRankTrimmedSavepointRefusedByUpdatingInput: a savepoint of a Top-N per partition over a kafka table
// read as plain JSON (insert-only: the Rank keeps only each partition's top rows) does not restore into the
// same query after the table is declared again with the same name and columns as debezium-json: the plan
// (and so the operator's id) is the same but the Rank's input now updates, and its restore is refused with
// the cause and the fix (exec: the Rank's signature marks trimmed state). Before, it restored, holding only
// the top rows, and a retraction would have emitted wrong results.
func TestRankTrimmedSavepointRefusedByUpdatingInput(t *testing.T) {
	addr := exchangeBroker(t)
	table := func(format string) string {
		return `CREATE TABLE bids (k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bids',
  'properties.bootstrap.servers' = '` + addr + `', 'format' = '` + format + `', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE hole (k BIGINT, v BIGINT, rn BIGINT) WITH ('connector' = 'blackhole');
`
	}
	const insert = `INSERT INTO hole SELECT * FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM bids) WHERE rn <= 3`
	run := func(s *Session) (*Job, error) {
		st, err := sql.ParseStatement(insert)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			return nil, err
		}
		return res.Job, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		r := &kgo.Record{Topic: "bids", Value: []byte(fmt.Sprintf(`{"k":%d,"v":%d}`, i%4, i*7%23))}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	s := exchangeSession(t, 1)
	execScript(t, s, table("json"))
	j, err := run(s)
	if err != nil {
		t.Fatal(err)
	}
	savepoint, err := j.Stop(context.Background(), t.TempDir(), false)
	if err != nil {
		t.Fatalf("stop with a savepoint: %v", err)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	// the same query and table restore it
	s = exchangeSession(t, 1)
	execScript(t, s, table("json")+"SET 'execution.savepoint.path' = '"+savepoint+"';\n")
	j, err = run(s)
	if err != nil {
		t.Fatalf("restoring into the same query: %v", err)
	}
	j.Cancel()
	_ = j.Wait(context.Background())

	s = exchangeSession(t, 1)
	execScript(t, s, table("debezium-json")+"SET 'execution.savepoint.path' = '"+savepoint+"';\n")
	j, err = run(s)
	if err == nil {
		j.Cancel()
		_ = j.Wait(context.Background())
		t.Fatal("the insert-only Top-N's savepoint restored into the Top-N of an updating input")
	}
	for _, want := range []string{`Rank(func="ROW_NUMBER", partition=1, order=1, limit=3, rowNumber=true)`, "over an insert-only input",
		"only the first 3 rows of each partition", "its input is updating", "or start this query without the savepoint"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
}
