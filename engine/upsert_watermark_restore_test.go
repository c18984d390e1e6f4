package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestorePreWatermarkPushdownSavepoint restores a savepoint that Sluice wrote before the WATERMARK of an
// upsert-kafka table went below its ChangelogNormalize (testdata/old_checkpoints/upsert_watermark_above_normalize,
// taken by the code of commit eb10944: the LEFT temporal join of tjUpsertTables into tj at parallelism 1,
// stopped once stage 0's rows were out, the rates in the single partition of topic urates). The operator ids
// of the assigner, the normalize and the join changed with the plan; restore finds their state under the
// ids of the old plan shape (planner.PreWatermarkPushdown), so the job goes on: the fence rows of stage 0
// that waited in the join's state come out with stage 1's rows, joined with the versions of the restored
// normalize (the rates are not read again). At parallelism 1 and 3.
func TestRestorePreWatermarkPushdownSavepoint(t *testing.T) {
	fixture := filepath.Join("testdata", "old_checkpoints", "upsert_watermark_above_normalize")
	want := tjWant(1)
	for k := range tjWant(0) {
		delete(want, k)
	}
	for _, par := range []int{1, 3} {
		sp := t.TempDir()
		files, err := os.ReadDir(fixture)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(fixture, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sp, f.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		addr := exchangeBroker(t)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "urates")
		cancel()
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		recs := upsertRateRecords()
		for _, r := range recs {
			r.Partition = 0 // as the savepoint's job read them: one partition, in time order
		}
		produceRecords(t, addr, recs)
		produceTemporal(t, addr, false, 0)
		produceTemporal(t, addr, false, 1)
		s := exchangeSession(t, par)
		script := strings.ReplaceAll(strings.ReplaceAll(tjUpsertTables, "ADDR", addr), "BOUNDED", "")
		execScript(t, s, script+fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", sp))
		res := executeInsert(t, s, `INSERT INTO tj SELECT o.id, o.k, r.v FROM ords AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id`)
		waitUpsert(t, addr, "tj", want)
		res.Job.Cancel()
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}
