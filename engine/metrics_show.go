package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// showJobsColumns are the columns of SHOW JOBS: Flink's four, then Sluice's counters; the last, a scale-out
// member's counters per keyed stage (formatScaleOut), is empty for other jobs.
var showJobsColumns = []string{"job id", "job name", "status", "start time", "rows in", "rows out", "records/s", "lag", "watermark", "last checkpoint", "scale-out stages"}

// showJobs lists the session's jobs with their counters (SHOW JOBS).
func (s *Session) showJobs() *Result {
	loc := s.location()
	var rows [][]string
	for _, j := range s.jobs {
		rows = append(rows, jobRow(j, loc))
	}
	return stringTable(showJobsColumns, rows)
}

func jobRow(j *Job, loc *time.Location) []string {
	m := j.Metrics()
	last := ""
	if c := m.LastCheckpoint; c.ID > 0 {
		last = fmt.Sprintf("%d (%s)", c.ID, c.Time.UTC().Format("15:04:05.000"))
	}
	return []string{j.id, j.name, string(j.Status()), j.start.UTC().Format("2006-01-02T15:04:05.000Z"),
		strconv.FormatInt(m.RowsIn, 10), strconv.FormatInt(m.RowsOut, 10), formatRate(m.RecordsInPerSecond),
		formatLag(m.Lag), formatWatermark(m.Watermark, loc), last, formatScaleOut(m.ScaleOut)}
}

// formatScaleOut is the SHOW JOBS cell of a scale-out member's per-stage counters (JobMetrics.ScaleOut, as
// DESCRIBE JOB's section "Scale-out keyed stages (this member)" spells them out), e.g. "1: restored 4 (120
// records) kept 2 dropped 0; 2: restored 2 (31 records) kept 3 dropped 0"; "" for other jobs.
func formatScaleOut(ms []ScaleOutStageMetrics) string {
	var b strings.Builder
	for i, st := range ms {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d: restored %d (%d records) kept %d dropped %d", st.Stage, st.RestoredPartitions, st.RestoredRecords, st.Kept, st.AbortDrops)
	}
	return b.String()
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', 1, 64) }

func formatLag(n int64) string {
	if n < 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// formatWatermark prints a watermark as a timestamp in the session time zone ("" when there is none).
func formatWatermark(wm int64, loc *time.Location) string {
	if wm == NoWatermark || wm == 1<<63-1 {
		return ""
	}
	return time.UnixMilli(wm).In(loc).Format("2006-01-02 15:04:05.000")
}

// describeJob runs DESCRIBE JOB '<id>': the SHOW JOBS row of the job, then its plan with each operator's
// counters and, for a failed job, the failure's root cause and where its statement is.
func (s *Session) describeJob(st *sql.DescribeJob) (*Result, error) {
	var job *Job
	for _, j := range s.jobs {
		if j.id == st.ID {
			job = j
		}
	}
	if job == nil {
		return nil, sql.Errorf(st.P, catalog.ErrNotFound, "no job with id '%s' in this session (SHOW JOBS lists them)", st.ID)
	}
	loc := s.location()
	r := stringTable(showJobsColumns, [][]string{jobRow(job, loc)})
	r.Message = describeJobText(job, loc)
	return r, nil
}

// describeJobText is the body of DESCRIBE JOB.
func describeJobText(j *Job, loc *time.Location) string {
	var b strings.Builder
	if j.origin != "" {
		fmt.Fprintf(&b, "Statement at %s:\n%s\n\n", j.origin, indent(strings.TrimSpace(j.stmt)))
	}
	if j.Status() == JobFailed {
		if err := j.Err(); err != nil {
			fmt.Fprintf(&b, "Root cause: %v\n", RootCause(err))
			if j.origin != "" {
				fmt.Fprintf(&b, "  in the job of the statement at %s\n", j.origin)
			}
			fmt.Fprintf(&b, "Failure: %v\n\n", err)
		}
	}
	m := j.Metrics()
	byID := map[int]OperatorMetrics{}
	for _, o := range m.Operators {
		byID[o.ID] = o
	}
	j.metrics.mu.Lock()
	roots := j.metrics.roots
	ids := map[planner.Node]int{}
	for n, om := range j.metrics.byNode {
		ids[n] = om.id
	}
	j.metrics.mu.Unlock()
	if len(m.ScaleOut) > 0 {
		b.WriteString("== Scale-out keyed stages (this member) ==\n")
		for _, st := range m.ScaleOut {
			fmt.Fprintf(&b, "stage %d: restored %d partitions (%d changelog records), kept %d partitions over rebalances, dropped %d after aborted transactions\n",
				st.Stage, st.RestoredPartitions, st.RestoredRecords, st.Kept, st.AbortDrops)
		}
	}
	b.WriteString("== Operators (numRecordsIn, numRecordsOut, numRecordsInPerSecond, currentInputWatermark) ==\n")
	var walk func(n planner.Node, prefix string, last, top bool)
	walk = func(n planner.Node, prefix string, last, top bool) {
		o := byID[ids[n]]
		conn := ""
		if !top {
			conn = ":- "
			if last {
				conn = "+- "
			}
		}
		fmt.Fprintf(&b, "%s%s%s\n", prefix, conn, n.Describe())
		childPrefix := prefix
		if !top {
			childPrefix += map[bool]string{true: "   ", false: ":  "}[last]
		}
		ins := n.Inputs()
		bar := childPrefix + "   "
		if len(ins) > 0 {
			bar = childPrefix + ":  "
		}
		fmt.Fprintf(&b, "%s%s in=%d out=%d in/s=%s watermark=%s", bar, o.Name, o.RecordsIn, o.RecordsOut,
			formatRate(o.RecordsInPerSecond), orNone(formatWatermark(o.InputWatermark, loc)))
		if o.Lag >= 0 {
			fmt.Fprintf(&b, " lag=%d lag-max=%d", o.Lag, o.LagMax)
		}
		b.WriteString("\n")
		for i, in := range ins {
			walk(in, childPrefix, i == len(ins)-1, false)
		}
	}
	for _, r := range roots {
		walk(r, "", true, true)
	}
	return strings.TrimRight(b.String(), "\n")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
