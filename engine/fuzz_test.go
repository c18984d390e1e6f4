package engine

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// FuzzPlan plans arbitrary statements (as EXPLAIN, so nothing runs) against a small catalog, in both runtime
// modes, and fails on internal errors (recovered panics): every input must give a plan or a user error.
func FuzzPlan(f *testing.F) {
	for _, seed := range []string{
		"SELECT a, COUNT(*) FROM t GROUP BY a",
		"SELECT * FROM t JOIN u ON t.a = u.a WHERE t.b > 1",
		"SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end",
		"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t) WHERE rn <= 2",
		"SELECT a, SUM(b) OVER (PARTITION BY a ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
		"SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), COUNT(*) FROM t GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
		"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a LIMIT 3",
		"SELECT CASE WHEN a > 1 THEN 'x' END, COALESCE(b, 0), CAST(a AS STRING) FROM t",
		"INSERT INTO p SELECT a, COUNT(*) FROM t GROUP BY a",
		"SELECT DISTINCT a FROM (VALUES (1), (2)) AS v(a)",
		"SELECT a, SESSION_START(ts, INTERVAL '1' MINUTE), COUNT(*) FROM t GROUP BY a, SESSION(ts, INTERVAL '1' MINUTE)",
		"SELECT t.a, v.c FROM t JOIN v FOR SYSTEM_TIME AS OF t.ts ON t.a = v.a",
		"SELECT a, MAX(b) OVER w FROM t WINDOW w AS (ORDER BY ts RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)",
		"SELECT * FROM (SELECT a, DENSE_RANK() OVER (PARTITION BY a ORDER BY b) AS r FROM t) WHERE r < 3",
		"SELECT a, window_end, SUM(b) FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)) GROUP BY a, window_start, window_end",
		// One or more seeds per planner rule (planner/rules.go) and per physical choice.
		"SELECT a, b + 1 FROM t WHERE b > 0",                                   // CalcMergeRule, FilterToCalcRule
		"SELECT y + 1 FROM (SELECT a + 1 AS x, b * 2 AS y FROM t WHERE a > 1)", // CalcMergeRule, ProjectToCalcRule
		"SELECT * FROM (SELECT a, b, ts FROM t)",                               // ProjectRemoveRule
		"SELECT a, COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1",             // FilterToCalcRule (HAVING)
		"SELECT * FROM (SELECT a, rn AS r FROM (SELECT a, RANK() OVER (PARTITION BY a ORDER BY b) AS rn FROM t)) WHERE r <= 3 AND 2 > r",                                                              // RankLimitPushdownRule
		"SELECT b FROM t WHERE a IN (SELECT a FROM u) AND b IN (SELECT CAST(a AS BIGINT) FROM u WHERE c = 'x')",                                                                                       // InSubqueryToSemiJoinRule
		"SELECT a, HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), SUM(b) FROM t GROUP BY a, HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)",                                                // GroupWindowToWindowTVFRule
		"SELECT window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) WHERE a > 1 GROUP BY window_start, window_end",                                                  // WindowAggregateRule
		"SELECT DISTINCT window_start, window_end FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",                                                                                   // not a window aggregate
		"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, a ORDER BY b DESC) AS rn FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) WHERE rn <= 2", // WindowRankRule
		"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY s DESC) AS rn FROM (SELECT window_start, window_end, a, SUM(b) AS s FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) GROUP BY window_start, window_end, a)) WHERE rn <= 3",
		"SELECT a, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY a, window_start, window_end ORDER BY ts DESC) AS rn FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) WHERE rn = 1",                                             // WindowRankRule: deduplication
		"SELECT l.a, r.b FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) l FULL JOIN TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) r ON l.a = r.a AND l.window_start = r.window_start AND l.window_end = r.window_end", // WindowJoinRule
		"SELECT * FROM (SELECT window_start, window_end, a, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, a) l JOIN (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) r ON l.window_start = r.window_start AND l.window_end = r.window_end AND l.n < r.b",
		"SELECT a, ts FROM t WHERE a > 1", // WatermarkAssignerRemoveRule (batch)
		"SELECT * FROM (SELECT a, rn AS r FROM (SELECT a, RANK() OVER (PARTITION BY a ORDER BY b) AS rn FROM t)) WHERE r <= 3 AND 2 > r",               // RankLimitPushdownRule
		"SELECT b FROM t WHERE a IN (SELECT a FROM u) AND b IN (SELECT CAST(a AS BIGINT) FROM u WHERE c = 'x')",                                        // InSubqueryToSemiJoinRule
		"SELECT a, HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), SUM(b) FROM t GROUP BY a, HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)", // GroupWindowToWindowTVFRule
		"SELECT window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) WHERE a > 1 GROUP BY window_start, window_end",   // WindowAggregateRule
		"SELECT DISTINCT window_start, window_end FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",                                    // not a window aggregate
		"SELECT a, ts FROM t WHERE a > 1", // WatermarkAssignerRemoveRule (batch)
		"SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a AND c <> 'x' AND t.b > 1)",                           // SubqueryToJoinRule (correlated)
		"SELECT a FROM t WHERE NOT EXISTS (SELECT * FROM u) AND a NOT IN (SELECT a FROM u WHERE c = 'x')",                   // SubqueryToJoinRule (anti, NOT IN)
		"SELECT a FROM t WHERE (a, b) IN (SELECT a, CAST(a AS BIGINT) FROM u) AND NOT EXISTS (SELECT 1 FROM u WHERE a = b)", // row IN
		"SELECT a, (SELECT COUNT(*) FROM u WHERE u.a = t.a) FROM t WHERE b > (SELECT AVG(a) FROM u)",                        // scalar subqueries
		"SELECT * FROM t JOIN u ON t.b = u.a AND t.a IS NOT DISTINCT FROM u.a LEFT JOIN u AS w ON t.b < w.a",                // computed join keys, keyless join
		"SELECT * FROM t, u WHERE t.a > u.a OR u.c IS NULL",                                                                 // cross join with a condition
		"SELECT a FROM t INTERSECT SELECT a FROM u",                                                                         // SetOpRewriteRule
		"SELECT a, b FROM t EXCEPT ALL SELECT a, CAST(a AS BIGINT) FROM u INTERSECT ALL SELECT 1, 2",                        // SetOpRewriteRule, Replicate
		"SELECT ts FROM t MINUS SELECT ts FROM t WHERE a > 1",                                                               // SetOpRewriteRule over a time attribute
		"SELECT a FROM t LIMIT 2",                      // physical: Limit / Sort
		"SELECT a, COUNT(*) FROM t GROUP BY a LIMIT 2", // physical: LIMIT over updates
		"SELECT * FROM t JOIN t AS t2 ON t.a = t2.a AND t.ts BETWEEN t2.ts - INTERVAL '1' MINUTE AND t2.ts", // physical: IntervalJoin / HashJoin
		"VERBOSE SELECT a FROM t WHERE a IN (SELECT a FROM u)",                                              // EXPLAIN VERBOSE
		"SELECT r.id, n.r.name, (r).id * 2, r.addr.city FROM n WHERE r.id > 1",
		"SELECT r.name, COUNT(*), SUM(r.addr.zip) FROM n GROUP BY r.name",
		"SELECT x.id FROM (SELECT r AS x FROM n) WHERE x IS NOT NULL",
		"SELECT n.r.addr.zip, t.a FROM n JOIN t ON n.k = t.a",
		"SELECT a, c, rn FROM (SELECT t.a, t.b, u.c, ROW_NUMBER() OVER (PARTITION BY u.c ORDER BY t.b DESC) AS rn FROM t JOIN u ON t.a = u.a) WHERE rn <= 2", // TrimJoinReadersRule
		"SELECT a, rn FROM (SELECT l.a, ROW_NUMBER() OVER (PARTITION BY l.window_start, l.window_end ORDER BY r.b DESC) AS rn FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) l JOIN TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) r ON l.window_start = r.window_start AND l.window_end = r.window_end) WHERE rn <= 1", // TrimJoinReadersRule (window Top-N over a window join)
		// MATCH_RECOGNIZE: navigation, aggregates, skip strategies, WITHIN, refused syntax.
		"SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY a ORDER BY ts MEASURES FIRST(A.b) AS f, LAST(B.b, 1) AS l, SUM(B.b) AS s, MATCH_ROWTIME() AS mt AFTER MATCH SKIP TO LAST B PATTERN (A B+? C{1,2}) WITHIN INTERVAL '1' MINUTE DEFINE B AS B.b < LAST(B.b, 1) OR PREV(B.b, 0) > 1, C AS C.b > A.b) AS m",
		"SELECT m.x FROM (SELECT * FROM t WHERE b > 0) MATCH_RECOGNIZE (ORDER BY ts, b DESC MEASURES COUNT(*) AS x ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A{2} B* C) DEFINE A AS AVG(A.b) > 1, B AS B.b IS NULL) m",
		"SELECT * FROM (SELECT a, COUNT(*) AS c, MAX(ts) AS ts FROM t GROUP BY a) MATCH_RECOGNIZE (ORDER BY ts MEASURES A.c AS c PATTERN (A B*) DEFINE A AS NEXT(A.c) > 1)",
		// Window TVFs: named arguments, SESSION, processing time; FLOOR/CEIL TO; streaming ORDER BY rowtime.
		"SELECT * FROM TABLE(HOP(DATA => TABLE t, SLIDE => INTERVAL '1' MINUTE, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '2' MINUTE, OFFSET => INTERVAL '10' SECOND))",
		"SELECT * FROM TABLE(TUMBLE(TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' MINUTE, SIZE => INTERVAL '2' MINUTE))",
		"SELECT a, window_start, SUM(b) FROM TABLE(SESSION(TABLE t PARTITION BY (a, b), DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY a, window_start, window_end",
		"SELECT * FROM TABLE(SESSION(DATA => TABLE t PARTITION BY a, TIMECOL => DESCRIPTOR(ts), GAP => INTERVAL '1' MINUTE))",
		"SELECT window_start, COUNT(*) FROM TABLE(CUMULATE(TABLE pc, DESCRIPTOR(pt), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)) GROUP BY window_start, window_end",
		"SELECT * FROM TABLE(TUMBLE(TABLE pc, DESCRIPTOR(pt), INTERVAL '1' MINUTE))",
		"SELECT FLOOR(ts TO HOUR), CEIL(ts TO WEEK), FLOOR(CAST(ts AS DATE) TO MONTH), CEIL(pt TO DAY) FROM t, pc",
		"SELECT a, ts FROM t WHERE b > 0 ORDER BY ts, a DESC",
		"SELECT ABS(x => 1), ts FROM t ORDER BY ts DESC",
		// Grouping sets (planner/grouping_sets.go), the statistical aggregates, DISTINCT in OVER.
		"SELECT a, b, GROUPING(a, b), GROUPING_ID(b), COUNT(*) FROM t GROUP BY GROUPING SETS ((a, b), (a), ()) HAVING GROUPING(a) = 0",
		"SELECT a, b, SUM(b) FROM t GROUP BY ROLLUP (a, b)",
		"SELECT a, b, COUNT(*) FROM t GROUP BY GROUPING SETS (ROLLUP ((a, b)), CUBE (b, a), (a, b, a))",
		"SELECT a, b + 1, COUNT(*) FROM t GROUP BY a, CUBE (b + 1), ()",
		"SELECT a, window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, GROUPING SETS ((a), ())", // WindowAggregateRule over Expand
		"SELECT a, STDDEV_POP(b), VAR_SAMP(b), STDDEV(CAST(b AS DOUBLE)), VARIANCE(b), COLLECT(a) FROM t GROUP BY a",
		"SELECT a, COUNT(DISTINCT b) OVER (PARTITION BY a ORDER BY ts) FROM t",
		"SELECT GROUPING(a) FROM t",
		"SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a GROUP BY CUBE (c)) AND a IN (SELECT a FROM u GROUP BY GROUPING SETS ((a), ()))",
		"SELECT a, (SELECT COUNT(*) FROM u WHERE u.a = t.a GROUP BY ROLLUP (c)) FROM t",
		"SELECT a, COUNT(DISTINCT b), SUM(DISTINCT b), MAX(b), COUNT(*) FROM t GROUP BY a", // SplitAggregateRule, TwoStageOptimizedAggregateRule
		"SELECT n, MIN(a), AVG(n) FROM (SELECT a, COUNT(*) AS n FROM t GROUP BY a) GROUP BY n",
		// Window SEMI/ANTI joins (WindowSemiJoinRule), correlated NOT IN, time attributes downstream of window operators.
		"SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) l WHERE l.a IN (SELECT r.a FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) r WHERE l.window_start = r.window_start AND l.window_end = r.window_end)",
		"SELECT l.a FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) l WHERE NOT EXISTS (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) r WHERE l.a = r.a AND l.window_start = r.window_start AND l.window_end = r.window_end)",
		"SELECT * FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) l WHERE l.a NOT IN (SELECT r.a FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) r WHERE l.window_start = r.window_start AND l.window_end = r.window_end) AND EXISTS (SELECT 1 FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '2' MINUTE)) q WHERE q.window_end = l.window_end AND q.window_start = l.window_start)",
		"SELECT * FROM (SELECT window_start, window_end, a, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, a) l WHERE EXISTS (SELECT * FROM (SELECT DISTINCT window_start, window_end, a FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) r WHERE l.a = r.a AND l.window_start = r.window_start AND l.window_end = r.window_end)",
		"SELECT b FROM t WHERE b NOT IN (SELECT CAST(u.a AS BIGINT) FROM u WHERE u.a = t.a)",
		"SELECT a, window_time, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY a, window_start, window_end, window_time ORDER BY window_time",
		"SELECT * FROM (SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY a ORDER BY ts MEASURES MATCH_ROWTIME() AS mt, A.b AS x PATTERN (A B) DEFINE B AS B.b > A.b)) WHERE mt > TIMESTAMP '2020-01-01 00:00:00' ORDER BY mt",
		// Subqueries as marker joins (planner/subquery_marker.go, subquery_general.go): in OR, NOT, CASE and
		// the SELECT list, non-equi correlations, row-valued NOT IN, correlated GROUP BY / DISTINCT / LIMIT.
		"SELECT a FROM t WHERE b > 1 OR EXISTS (SELECT 1 FROM u WHERE u.a = t.a) OR a NOT IN (SELECT a FROM u)",
		"SELECT a, a IN (SELECT a FROM u WHERE c <> 'x') AS i, CASE WHEN NOT EXISTS (SELECT * FROM u WHERE u.a > t.a) THEN 1 END FROM t",
		"SELECT a FROM t WHERE NOT (a > 1 OR (a, CAST(b AS INT)) NOT IN (SELECT a, a + 1 FROM u)) AND (a, b) NOT IN (SELECT a, CAST(a AS BIGINT) FROM u)",
		"SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a AND CHAR_LENGTH(u.c) < t.b) AND b IN (SELECT CAST(a AS BIGINT) FROM u WHERE u.a < t.a)",
		"SELECT a FROM t WHERE a IN (SELECT MAX(a) FROM u WHERE CAST(u.c AS BIGINT) = t.b GROUP BY c HAVING COUNT(*) > 1) OR EXISTS (SELECT DISTINCT c FROM u WHERE u.a = t.a LIMIT 1)",
		"SELECT a FROM t WHERE a NOT IN (SELECT MIN(a) FROM u WHERE u.a = t.a) AND EXISTS (SELECT COUNT(*) FROM u WHERE u.a = t.a) AND a + 1 IN (SELECT a FROM u WHERE u.c = 'x' LIMIT 1)",
		"SELECT a FROM t WHERE ts IN (SELECT vts FROM v WHERE v.c > CAST(t.a AS STRING)) OR (SELECT COUNT(*) FROM u WHERE u.a = t.a) > 1",
		"SELECT a, COUNT(*) FROM t WHERE a IN (SELECT a FROM u WHERE u.a <> t.a) OR b IS NULL GROUP BY a HAVING COUNT(*) > 1",
	} {
		f.Add(seed)
	}
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard})
	if err != nil {
		f.Fatal(err)
	}
	setup, err := sql.ParseScript(`
CREATE TABLE t (a INT, b BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE u (a INT, c STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE p (a INT, n BIGINT) WITH ('connector' = 'print');
CREATE TABLE v (a INT, c STRING, vts TIMESTAMP(3), PRIMARY KEY (a) NOT ENFORCED, WATERMARK FOR vts AS vts) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE n (k INT, r ROW<id BIGINT, name STRING, addr ROW<city STRING, zip INT>>, c AS r.addr.city) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE pc (a INT, pt AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '5');`)
	if err != nil {
		f.Fatal(err)
	}
	for _, st := range setup {
		if _, err := s.Execute(context.Background(), st); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		st, err := sql.ParseStatement("EXPLAIN " + text)
		if err != nil {
			return
		}
		for _, mode := range []string{"streaming", "batch"} {
			s.mu.Lock()
			s.opts["execution.runtime-mode"] = mode
			s.mu.Unlock()
			if _, err := s.Execute(context.Background(), st); errors.Is(err, ErrInternal) {
				t.Fatalf("%s mode: %v\nstatement: %s", mode, err, text)
			}
		}
		// Streaming again with mini-batch, two-phase and split distinct aggregation (physical_rewrite).
		miniBatch := map[string]string{"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "1 s",
			"table.exec.mini-batch.size": "100", "table.optimizer.distinct-agg.split.enabled": "true"}
		s.mu.Lock()
		s.opts["execution.runtime-mode"] = "streaming"
		for k, v := range miniBatch {
			s.opts[k] = v
		}
		s.mu.Unlock()
		_, err = s.Execute(context.Background(), st)
		s.mu.Lock()
		for k := range miniBatch {
			delete(s.opts, k)
		}
		s.mu.Unlock()
		if errors.Is(err, ErrInternal) {
			t.Fatalf("streaming with mini-batch: %v\nstatement: %s", err, text)
		}
	})
}
