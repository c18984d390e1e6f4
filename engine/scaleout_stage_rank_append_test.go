package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// A later stage's Top-N over an insert-only input (scaleout_stage_rank_append.go): orders JOIN users (both
// insert-only scans: the join's output is insert-only) ranked per user. Each user's orders are produced to
// one source partition in order, the join and the Top-N are keyed by the user too, so a user's join rows
// reach its Top-N in the order they were produced: the expected result, ties by arrival included, is
// computed from the input.

// tieUsers is the number of users of the tie tests.
const tieUsers = 60

const tieUsersDDL = `CREATE TABLE users (id BIGINT, name STRING) WITH (
  'connector' = 'kafka', 'topic' = 'users', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

// produceTieRecords writes n records to topic, each keyed by rec's key (all of one key go to one partition,
// in order).
func produceTieRecords(t *testing.T, addr, topic string, n int, rec func(i int) (key int, value string)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		k, v := rec(i)
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Append(nil, k), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// tieFeed produces the orders of the tie tests (id = their number), keyed by user, and remembers them
// (user, amount) in order.
type tieFeed struct {
	t      *testing.T
	addr   string
	orders [][2]int
}

// produce writes orders (user, amount).
func (f *tieFeed) produce(orders ...[2]int) {
	from := len(f.orders)
	f.orders = append(f.orders, orders...)
	produceTieRecords(f.t, f.addr, "orders", len(orders), func(i int) (int, string) {
		o := orders[i]
		return o[0], fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, from+i, o[0], o[1])
	})
}

// ties writes four orders of amount 10 per user: its top three are its first three, tied.
func (f *tieFeed) ties() {
	var os [][2]int
	for range 4 {
		for u := range tieUsers {
			os = append(os, [2]int{u, 10})
		}
	}
	f.produce(os...)
}

// filler writes n orders of amounts 0..4 round the users: below every user's tied top rows, they change no
// result but bring records to every partition.
func (f *tieFeed) filler(n int) {
	os := make([][2]int, n)
	for i := range os {
		k := len(f.orders) + i
		os[i] = [2]int{k % tieUsers, k % 5}
	}
	f.produce(os...)
}

// bump writes one order of amount 11 + g to each user u with u % 3 == g: it goes first and pushes the
// user's tied rows down, so the row numbers 2 and 3 show which tied rows the Top-N holds first.
func (f *tieFeed) bump(g int) {
	var os [][2]int
	for u := g; u < tieUsers; u += 3 {
		os = append(os, [2]int{u, 11 + g})
	}
	f.produce(os...)
}

// want is the Top-N's result over the orders: per user, its orders in arrival order sorted stably by amount
// descending, the first three, as (user, rn) -> (id, amount).
func (f *tieFeed) want() map[rankKey][2]int64 {
	per := map[int64][][2]int64{}
	for i, o := range f.orders {
		per[int64(o[0])] = append(per[int64(o[0])], [2]int64{int64(i), int64(o[1])})
	}
	w := map[rankKey][2]int64{}
	for u, rows := range per {
		slices.SortStableFunc(rows, func(a, b [2]int64) int { return int(b[1] - a[1]) })
		for r, row := range rows[:min(3, len(rows))] {
			w[rankKey{u, int64(r + 1)}] = row
		}
	}
	return w
}

// tieTopInsert is the three largest amounts per user (ties in arrival order) over orders JOIN users, into
// sink (shipTopDDL's columns).
func tieTopInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT user_id, rn, id, amount FROM (
  SELECT o.id, o.user_id, o.amount, u.name, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC) AS rn
  FROM orders o JOIN users u ON o.user_id = u.id) WHERE rn <= 3`
}

// liveEntries counts the keys of changelog topic cl whose last committed record is not a tombstone, and its
// committed records.
func liveEntries(t *testing.T, addr, cl string) (live, records int) {
	last := map[string]bool{}
	recs := readCommitted(t, addr, cl)
	for _, r := range recs {
		last[string(r.Key)] = r.Value != nil
	}
	for _, ok := range last {
		if ok {
			live++
		}
	}
	return live, len(recs)
}

// startTieJob produces the users, starts member A and waits until it has read them (so that every order
// meets its user in the join when it arrives), and returns the member script.
func startTieJob(t *testing.T, addr string, stmts ...string) (string, *Job, *syncBuffer) {
	produceTieRecords(t, addr, "users", tieUsers, func(i int) (int, string) { return i, fmt.Sprintf(`{"id":%d,"name":"u%d"}`, i, i) })
	script := scaleOutTestScript(addr, append([]string{tieUsersDDL}, stmts...)...)
	a, aOut := startTestMember(t, script)
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == tieUsers }) {
		t.Fatalf("member A read %d users, want %d\n%s", a.Metrics().RowsIn, tieUsers, aOut)
	}
	return script, a, aOut
}

// runTieMembers drives the members of a tie test: after each change of members, once a Top-N partition was
// restored from changelog topic cl (filler orders bring records to every partition), a third of the users
// get their bump order, pushing their tied rows down, and no order after that changes their result: a Top-N
// restored with its tied rows in another order than the sink numbered them leaves a wrong result. The
// changes: A alone; B joins (B restores); B is cancelled (A restores B's partitions); B starts again (B
// restores). check is called after each with the orders so far.
func runTieMembers(t *testing.T, f *tieFeed, script, cl string, aOut *syncBuffer, check func(what string, outs ...*syncBuffer)) {
	restored := func(out *syncBuffer) int { return strings.Count(out.String(), "from '"+cl+"'") }
	waitRestore := func(out *syncBuffer, before int, who string) {
		t.Helper()
		for i := 0; restored(out) == before; i++ {
			if i > 100 {
				t.Fatalf("%s did not restore a partition of '%s':\n%s", who, cl, out)
			}
			f.filler(200)
			time.Sleep(200 * time.Millisecond)
		}
		f.filler(500)
	}
	f.ties()
	f.filler(2000)
	check("one member", aOut)
	b, bOut := startTestMember(t, script)
	waitRestore(bOut, 0, "member B")
	f.bump(0)
	f.filler(500)
	check("two members", aOut, bOut)
	before := restored(aOut)
	b.Cancel()
	waitRestore(aOut, before, "member A after B was cancelled")
	f.bump(1)
	f.filler(500)
	check("member A after B was cancelled", aOut, bOut)
	_, b2Out := startTestMember(t, script)
	waitRestore(b2Out, 0, "member B restarted")
	f.bump(2)
	f.filler(500)
	check("member B restarted", aOut, b2Out)
}

// TestScaleOutTopNOverInsertOnlyJoin: a Top-N over an INNER join of two insert-only scans keeps only its top
// rows: its changelog topic's live entries are exactly the result's rows (three per user), not every join
// row as over a LEFT join (an updating input: the mirror of every row; every order meets its user there
// too, so the result is the same). Member B joins, is cancelled and starts again while orders come, so Top-N partitions are restored
// (by B and by A) in the middle of runs of equal amounts; the result, ties in arrival order, equals the one
// computed from the input throughout, so a restore that does not give the Rank the rows in the order the
// sink numbered them fails it.
func TestScaleOutTopNOverInsertOnlyJoin(t *testing.T) {
	for _, kind := range []string{"JOIN", "LEFT JOIN"} {
		t.Run(kind, func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			const cl = "totals-job-rank2-changelog"
			script, _, aOut := startTieJob(t, addr, shipTopDDL("top", "top"), overJoin(tieTopInsert("top"), kind))
			if !strings.Contains(aOut.String(), "two keyed stages") {
				t.Fatalf("member A did not announce two stages:\n%s", aOut)
			}
			f := &tieFeed{t: t, addr: addr}
			check := func(what string, outs ...*syncBuffer) {
				t.Helper()
				want := f.want()
				var got map[rankKey][2]int64
				if !waitUntil(40*time.Second, func() bool { got = readShipTop(t, addr, "top"); return fmt.Sprint(got) == fmt.Sprint(want) }) {
					t.Fatalf("%s: got %v\nwant %v\n%s", what, got, want, outs)
				}
				live, recs := liveEntries(t, addr, cl)
				t.Logf("%s: orders %d, '%s' live entries %d, records %d", what, len(f.orders), cl, live, recs)
				if kind == "JOIN" && live != len(want) {
					t.Fatalf("%s: '%s' holds %d live entries, want %d (the result's rows: three per user)", what, cl, live, len(want))
				}
				if kind == "LEFT JOIN" && live != len(f.orders) {
					t.Fatalf("%s: '%s' holds %d live entries, want %d (every distinct join row)", what, cl, live, len(f.orders))
				}
			}
			runTieMembers(t, f, script, cl, aOut, check)
		})
	}
}

// overJoin is insert with its JOIN made a kind join (JOIN, LEFT JOIN).
func overJoin(insert, kind string) string { return strings.Replace(insert, " JOIN ", " "+kind+" ", 1) }

// tieHistInsert is the GROUP BY amount over tieTopInsert's Top-N: per amount, how many of the users' top
// three rows have it and the sum of their users.
func tieHistInsert(sink string) string {
	return `INSERT INTO ` + sink + ` SELECT amount, COUNT(*), SUM(user_id) FROM (
  SELECT o.id, o.user_id, o.amount, u.name, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.amount DESC) AS rn
  FROM orders o JOIN users u ON o.user_id = u.id) WHERE rn <= 3 GROUP BY amount`
}

// TestScaleOutGroupByOverTopNOverJoin: a GROUP BY over a Top-N over a regular join runs as three keyed
// stages (join, Top-N, GROUP BY: '-join-', '-rank2-', '-agg3-' topics), the Top-N's changes going on to the
// GROUP BY (over an INNER join the Top-N's top rows, over a LEFT join its mirror). Member B joins, is
// cancelled and starts again while orders come; the result equals the one computed from the input
// throughout.
func TestScaleOutGroupByOverTopNOverJoin(t *testing.T) {
	for _, kind := range []string{"JOIN", "LEFT JOIN"} {
		t.Run(kind, func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			totals := strings.ReplaceAll(scaleOutTotalsDDL, "user_id BIGINT", "amount BIGINT")
			totals = strings.ReplaceAll(totals, "PRIMARY KEY (user_id)", "PRIMARY KEY (amount)")
			script, _, aOut := startTieJob(t, addr, totals, overJoin(tieHistInsert("totals"), kind))
			if !strings.Contains(aOut.String(), "three keyed stages, internal topics 'totals-job-join-repartition', 'totals-job-join-changelog', 'totals-job-rank2-repartition', 'totals-job-rank2-changelog', 'totals-job-agg3-repartition' and 'totals-job-agg3-changelog'") {
				t.Fatalf("member A did not announce three stages:\n%s", aOut)
			}
			read := func() map[int64]testTotal {
				return readCompacted(t, addr, "totals", func(k struct{ Amount int64 }) int64 { return k.Amount },
					func(v testTotal) testTotal { return v })
			}
			f := &tieFeed{t: t, addr: addr}
			check := func(what string, outs ...*syncBuffer) {
				t.Helper()
				want := map[int64]testTotal{}
				for k, v := range f.want() {
					tt := want[v[1]]
					tt.Cnt++
					tt.Total += k.User
					want[v[1]] = tt
				}
				var got map[int64]testTotal
				if !waitUntil(40*time.Second, func() bool { got = read(); return fmt.Sprint(got) == fmt.Sprint(want) }) {
					t.Fatalf("%s: got %v\nwant %v\n%s", what, got, want, outs)
				}
			}
			runTieMembers(t, f, script, "totals-job-rank2-changelog", aOut, check)
		})
	}
}

// cutScaleOutScript plans the script's INSERT (its last statement) as a member does and cuts it; explain is
// the session's EXPLAIN CHANGELOG_MODE of the INSERT.
func cutScaleOutScript(t *testing.T, script, insert string) (_ planner.Node, _ *scaleOutPlan, explain string, _ error) {
	t.Helper()
	s, err := NewSession(Config{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Notice: &syncBuffer{}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts[:len(stmts)-1] {
		if _, err := s.Execute(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := sql.ParseScript("EXPLAIN CHANGELOG_MODE " + insert)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), ex[0])
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := stmts[len(stmts)-1].(*sql.Insert)
	if !ok {
		t.Fatalf("the script's last statement is not an INSERT")
	}
	nodes, _, err := s.plan(nil, func(p *planner.Planner) ([]planner.Node, error) {
		n, err := p.PlanInsert(ins)
		return []planner.Node{n}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cutScaleOut(nodes[0])
	return nodes[0], p, res.Message, err
}

// TestScaleOutStageRankCut: which Top-N stages a plan cuts into and with which state. A Top-N over an INNER
// join of two insert-only scans has an insert-only input (as EXPLAIN CHANGELOG_MODE shows the join:
// changelogMode=[I]; it keeps its top rows) and a plan fingerprint of
// its own (its changelog's format differs from the mirrored rows'); over a LEFT join its input updates.
// A GROUP BY over a Top-N over a join is three keyed stages; over a Top-N over a GROUP BY (three too) it is
// refused. (The state TTL is refused for the join's sake: its changelog keeps every input row.)
func TestScaleOutStageRankCut(t *testing.T) {
	ddl := []string{tieUsersDDL, shipTopDDL("top", "top"), scaleOutTotalsDDL}
	for _, c := range []struct {
		name, insert string
		stages       string // "": refused
		insertOnly   bool
		err          string
	}{
		{name: "top-n over join", insert: tieTopInsert("top"), stages: "rank", insertOnly: true},
		{name: "top-n over left join", insert: overJoin(tieTopInsert("top"), "LEFT JOIN"), stages: "rank"},
		{name: "group by over top-n over join", insert: tieHistInsert("totals"), stages: "rank agg", insertOnly: true},
		{name: "group by over top-n over group by", insert: `INSERT INTO totals SELECT amount, COUNT(*), SUM(user_id) FROM (
  SELECT user_id, amount, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC) AS rn FROM (
    SELECT user_id, MAX(amount) AS amount FROM orders GROUP BY user_id, id)) WHERE rn <= 3 GROUP BY amount`,
			err: "a scale-out job runs a GROUP BY over a Top-N only when the Top-N reads one table scan or a regular join (a Top-N over GROUP BY stages is the last stage)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := scaleOutTestScript("127.0.0.1:9", append(slices.Clone(ddl), c.insert)...)
			root, p, explain, err := cutScaleOutScript(t, script, c.insert)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			join := regexp.MustCompile(`(?m)[+:]- Join\(.*$`).FindString(explain)
			if strings.HasSuffix(join, "changelogMode=[I])") != c.insertOnly {
				t.Fatalf("EXPLAIN CHANGELOG_MODE's join is %q; want it insert-only: %v\n%s", join, c.insertOnly, explain)
			}
			var stages []string
			for _, l := range p.later {
				if l.rank != nil {
					stages = append(stages, "rank")
					if got := l.rank.Input.Mode().IsInsertOnly(); got != c.insertOnly {
						t.Fatalf("the Top-N's input is insert-only: %v, want %v", got, c.insertOnly)
					}
				} else {
					stages = append(stages, "agg")
				}
			}
			if p.join == nil || strings.Join(stages, " ") != c.stages {
				t.Fatalf("stages: join %v, later %v; want a join and %s", p.join != nil, stages, c.stages)
			}
			if salted := p.fp != planFingerprint(root); salted != c.insertOnly {
				t.Fatalf("the plan's fingerprint %s differs from the EXPLAIN text's: %v, want %v", p.fp, salted, c.insertOnly)
			}
		})
	}
}
