package crashtest

import (
	"strings"
	"testing"
	"time"
)

// TestUnalignedKillRescaleHopCumulate's kills for the two other keyed operators that restore an unaligned
// checkpoint taken at another parallelism with watermarks in flight: an event-time MATCH_RECOGNIZE (a new
// subtask resumes from the lowest fired watermark of its key groups and takes the others as floors,
// exec/match_floor.go) and a regular join (it only forwards watermarks and forgets its restored ones,
// exec/exchange_unaligned_rescale.go). Each job reads tables with watermarks behind a keyed exchange whose
// subtasks are slowed (keyedDelay), writes to the slow sink broker (runSlowSink), and runs at parallelism 2,
// 3, 1, 4 in turn (a restore at 1 of channel state is refused, and the next run restores it at 4). The
// expected output is computed in Go from the orders fed; each test fails unless some run restored in-flight
// rows of its operator at another parallelism (checkRedistributed).

// matchRiseWant is the expectation of the A B+ C matches per user of TestMatchRecognizeKill (30 users: a
// user's amounts cycle 1, 3, 5, 0, 2, 4, 6; order i at event time tsOf(i)): per match, keyed by A's id, its
// user, the last B's id, the sum of the Bs' amounts and C's id; required once C is behind the final
// watermark (TestMatchRecognizeKill's at 10 ms an order).
func matchRiseWant(users int, tsOf func(id int) int64) func(total int) map[string]expect {
	return func(total int) map[string]expect {
		wm := passed(total, tsOf)
		want := map[string]expect{}
		for u := 0; u < users; u++ {
			// The user's orders are u, u+users, ...; A is an order of amount 1, B+ the longest run after it
			// of amounts other than 1 and 6, C the order of amount 6 right after the run.
			for a := u; a < total; a += users {
				if a%7 != 1 {
					continue
				}
				sum, b := 0, a+users
				for ; b < total && b%7 != 1 && b%7 != 6; b += users {
					sum += b % 7
				}
				if b == a+users || b >= total || b%7 != 6 {
					continue
				}
				want[row(a)] = expect{row(u, b-users, sum, b), tsOf(b) <= wm}
				a = b
			}
		}
		return want
	}
}

// TestUnalignedKillRescaleMatch: the MATCH_RECOGNIZE of TestMatchRecognizeKill (per user over event time,
// partial matches spanning seven orders of a user) → exactly-once kafka, read read_committed: every match
// exactly once, no other row. Unaligned checkpoints every 100 ms. The orders are 1 s of event time apart (the
// watermark is 1 s behind: no row is late, the partitions being read in order with a watermark each), so
// that the old subtasks' fired watermarks are many orders apart: a new subtask that resumed from another
// one's than the lowest of its key groups would drop rows of the channel state as late, and lose matches
// (with setFired a no-op: 16 to 49 lost in 4 of 9 runs; whether the first old subtask was ahead of another
// at a restored checkpoint is chance). The floors themselves drop nothing here (no row comes behind its key
// group's old watermark).
func TestUnalignedKillRescaleMatch(t *testing.T) {
	const users = 30
	s := scenario{
		users:    users,
		preload:  20000,
		settings: unalignedSets,
		tables: []string{groupOffsets(eventOrders("orders", "id * 1000")),
			sinkOn(eoSink("matches", "user_id BIGINT, a_id BIGINT, b_last BIGINT, b_sum BIGINT, c_id BIGINT"))},
		insert: `INSERT INTO matches SELECT * FROM orders MATCH_RECOGNIZE (
  PARTITION BY user_id ORDER BY ts
  MEASURES A.id AS a_id, LAST(B.id) AS b_last, SUM(B.amount) AS b_sum, C.id AS c_id
  ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
  PATTERN (A B+ C)
  DEFINE A AS A.amount = 1, B AS B.amount <> 1 AND B.amount <> 6, C AS C.amount = 6);`,
		parallelism: []int{2, 3, 1, 4},
		refusal:     p1Refusal,
		env:         []string{keyedDelay(3 * time.Millisecond)},
		settle:      true,
		kills:       rescaleOpsKills(),
		topic:       "matches",
		key:         []string{"a_id"},
		val:         []string{"user_id", "b_last", "b_sum", "c_id"},
		want:        matchRiseWant(users, func(id int) int64 { return int64(id) * 1000 }),
	}
	t.Parallel()
	outs := s.runSlowSink(t, 195, 100*time.Millisecond, func(outs []string) bool { return redistributedOf(outs, "Match") == 0 })
	checkRedistributed(t, outs, "Match")
}

// Both sides of TestUnalignedKillRescaleRegularJoin: o the orders whose id MOD 5 < 2, p the orders whose id
// MOD 5 < 2 and id MOD 7 <> 0, joined on o.id = p.id - 1000 (an o row's partner comes 1,000 orders after
// it, and one o row in seven has none).
const (
	rescaleJoinLeft  = `(SELECT id, user_id FROM orders WHERE MOD(id, 5) < 2)`
	rescaleJoinRight = `(SELECT id, amount, id - 1000 AS k FROM partners WHERE MOD(id, 5) < 2 AND MOD(id, 7) <> 0)`
)

// rescaleJoinWant is the expectation of TestUnalignedKillRescaleRegularJoin: every o row of the total orders
// keyed by its id, with its user and its partner's id and amount (null, null without one); all required, as
// the join waits for no watermark.
func rescaleJoinWant(users int) func(total int) map[string]expect {
	return func(total int) map[string]expect {
		want := map[string]expect{}
		for o := 0; o < total; o++ {
			if o%5 >= 2 {
				continue
			}
			if p := o + 1000; p < total && p%7 != 0 {
				want[row(o)] = expect{row(o%users, p, p%7), true}
			} else {
				want[row(o)] = expect{row(o%users, nil, nil), true}
			}
		}
		return want
	}
}

// TestUnalignedKillRescaleRegularJoin: a LEFT OUTER regular join of two tables with watermarks over the
// orders topic (both sides fed by their own source subtasks, each with its watermark; rescaleJoinLeft and
// rescaleJoinRight) → upsert-kafka keyed by o's id. An o row is written NULL-padded first (its partner comes
// ~1,000 orders later) and replaced when its partner arrives: the final table holds every o row once, with
// its partner or without. Unaligned checkpoints every 100 ms. With 'table.exec.sink.upsert-materialize'
// NONE the join's keyed subtasks write the sink (every change of an o row comes from the subtask of its join
// key, o's id, in order); with AUTO (the default; the join's output has no upsert key) a
// SinkUpsertMaterializer behind its own keyed exchange writes it, which restores at another parallelism as
// the join does (it only forwards watermarks; before, its channel state with watermarks was refused). Nothing
// after the join waits for its watermarks, so the test checks the restore's rows, not the watermarks the join
// forwards after it (forgetWatermarks: a join that forwarded none until the next one would write the same).
func TestUnalignedKillRescaleRegularJoin(t *testing.T) {
	t.Parallel()
	for _, materialize := range []string{"NONE", "AUTO"} {
		t.Run(strings.ToLower(materialize), func(t *testing.T) {
			testKillRescaleRegularJoin(t, materialize)
		})
	}
}

func testKillRescaleRegularJoin(t *testing.T, materialize string) {
	const users = 30
	s := scenario{
		users:   users,
		preload: 20000,
		settings: append(append([]string{}, unalignedSets...),
			`SET 'table.exec.sink.upsert-materialize' = '`+materialize+`';`),
		tables: []string{groupOffsets(eventOrders("orders", "id * 10")), groupOffsets(eventOrders("partners", "id * 10")),
			sinkOn(upsertSink("joined", "o_id BIGINT, user_id BIGINT, p_id BIGINT, p_amount BIGINT", "o_id"))},
		insert: `INSERT INTO joined SELECT o.id, o.user_id, p.id, p.amount
  FROM ` + rescaleJoinLeft + ` o LEFT JOIN ` + rescaleJoinRight + ` p ON o.id = p.k;`,
		parallelism: []int{2, 3, 1, 4},
		refusal:     p1Refusal,
		env:         []string{keyedDelay(3 * time.Millisecond)},
		settle:      true,
		kills:       rescaleOpsKills(),
		topic:       "joined",
		upsert:      true,
		key:         []string{"o_id"},
		val:         []string{"user_id", "p_id", "p_amount"},
		want:        rescaleJoinWant(users),
	}
	t.Parallel()
	outs := s.runSlowSink(t, 196, 100*time.Millisecond, func(outs []string) bool { return redistributedOf(outs, "Join") == 0 })
	checkRedistributed(t, outs, "Join")
}
