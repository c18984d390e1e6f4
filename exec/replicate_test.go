package exec

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

func TestReplicate(t *testing.T) {
	rec := &recorder{}
	op := NewReplicate(rec)
	ts := []types.Type{types.StringType(), types.BigIntType()}
	if err := feed(t, op, "+I[a, 2]\n+I[b, 0]\n+I[c, NULL]\n|\n-U[a, 2]\n+U[a, 1]\n+I[d, -1]\nWM 5\n", ts, false, true); err != nil {
		t.Fatal(err)
	}
	want := "+I[a]\n+I[a]\n-U[a]\n-U[a]\n+U[a]\nWM 5\nEND\n"
	if got := rec.b.String(); got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
	// A large count is pushed in chunks.
	rec = &recorder{}
	op = NewReplicate(rec)
	b := &changelog.Batch{}
	b.Append(changelog.Insert, []types.Value{types.StringValue("x"), types.IntValue(replicateChunk*2 + 1)})
	if err := op.Push(b); err != nil {
		t.Fatal(err)
	}
	if len(rec.rows) != replicateChunk*2+1 || rec.pushes != 3 {
		t.Fatalf("got %d rows in %d pushes, want %d in 3", len(rec.rows), rec.pushes, replicateChunk*2+1)
	}
}
