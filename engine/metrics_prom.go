package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The Prometheus endpoint ('metrics.reporter.prom.port', Flink's PrometheusReporter option). It serves the
// metrics of the session's running jobs under Flink's names and labels (docs/OBSERVABILITY.md):
//
//	flink_taskmanager_job_task_operator_<metric>{job_id, job_name, operator_id, operator_name, subtask_index}
//	flink_jobmanager_job_<metric>{job_id, job_name}
//
// Flink's reporter binds every interface and has no host option; Sluice binds 127.0.0.1 only.

// promPortKey is the session option that turns the endpoint on; promFilterKey is Flink's option that
// replaces the characters of label values outside [a-zA-Z0-9:_] with '_' (true by default, as in Flink).
const (
	promPortKey   = "metrics.reporter.prom.port"
	promFilterKey = "metrics.reporter.prom.filterLabelValueCharacters"
)

// promServer is a session's running endpoint.
type promServer struct {
	port string // the option's value it was started for
	ln   net.Listener
	srv  *http.Server
}

// sessionMetrics are the session's jobs as the endpoint sees them (its own lock: a scrape never waits for a
// statement that holds the session).
type sessionMetrics struct {
	mu         sync.Mutex
	jobs       []*Job
	server     *promServer
	keepLabels atomic.Bool // 'metrics.reporter.prom.filterLabelValueCharacters' = 'false'
}

// noteJob makes a new job visible to the endpoint.
func (s *Session) noteJob(j *Job) {
	s.metrics.mu.Lock()
	s.metrics.jobs = append(s.metrics.jobs, j)
	s.metrics.mu.Unlock()
}

// parsePortRange checks 'metrics.reporter.prom.port': a port ("9249") or a range ("9250-9260") the
// endpoint takes the first free port of; 0 picks any free port.
func parsePortRange(v string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(v, "-")
	lo, err = strconv.Atoi(strings.TrimSpace(a))
	if err != nil || lo < 0 || lo > 65535 {
		return 0, 0, fmt.Errorf("'%s' is not a port (want a port such as 9249, or a range such as 9250-9260)", v)
	}
	hi = lo
	if isRange {
		hi, err = strconv.Atoi(strings.TrimSpace(b))
		if err != nil || hi < lo || hi > 65535 || lo == 0 {
			return 0, 0, fmt.Errorf("'%s' is not a port range (want from-to, e.g. 9250-9260, with 0 < from <= to <= 65535)", v)
		}
	}
	return lo, hi, nil
}

// syncMetrics starts, restarts or stops the endpoint to match the session option (called with s.mu held
// after the option changed).
func (s *Session) syncMetrics() error {
	s.metrics.keepLabels.Store(s.opts[promFilterKey] == "false")
	want, on := s.opts[promPortKey]
	cur := s.metrics.server
	if cur != nil && on && cur.port == want {
		return nil
	}
	if cur != nil {
		cur.close()
		s.metrics.server = nil
	}
	if !on {
		return nil
	}
	lo, hi, err := parsePortRange(want)
	if err != nil {
		return fmt.Errorf("%w: Invalid value for option '%s': %v", ErrValidation, promPortKey, err)
	}
	var ln net.Listener
	for p := lo; p <= hi; p++ {
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w: '%s' = '%s': cannot listen on 127.0.0.1 (%v); choose a free port or a range such as 9250-9260", ErrValidation, promPortKey, want, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&promCollector{s: s})
	mux := http.NewServeMux()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.Handle("/metrics", h)
	mux.Handle("/", h) // Flink's reporter answers on any path
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.metrics.server = &promServer{port: want, ln: ln, srv: srv}
	fmt.Fprintf(s.cfg.Notice, "[INFO] Prometheus metrics of this session's jobs: http://%s/metrics\n", ln.Addr())
	return nil
}

func (p *promServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		_ = p.srv.Close()
	}
}

// MetricsAddr returns the address the Prometheus endpoint listens on ("127.0.0.1:9249"), or "" when
// 'metrics.reporter.prom.port' is not set.
func (s *Session) MetricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics.server == nil {
		return ""
	}
	return s.metrics.server.ln.Addr().String()
}

// Close releases what the session holds besides its jobs: the Prometheus endpoint. The session stays usable
// (setting the option again starts the endpoint again).
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics.server != nil {
		s.metrics.server.close()
		s.metrics.server = nil
	}
	return nil
}

// Flink's metric names (its Prometheus reporter joins the scope and the name with '_' and replaces the
// characters Prometheus does not allow, such as '-', with '_').
const (
	opPrefix  = "flink_taskmanager_job_task_operator_"
	jobPrefix = "flink_jobmanager_job_"
)

var (
	opLabels  = []string{"job_id", "job_name", "operator_id", "operator_name", "subtask_index"}
	jobLabels = []string{"job_id", "job_name"}

	descRecordsIn       = prometheus.NewDesc(opPrefix+"numRecordsIn", "numRecordsIn: rows the operator received.", opLabels, nil)
	descRecordsOut      = prometheus.NewDesc(opPrefix+"numRecordsOut", "numRecordsOut: rows the operator emitted.", opLabels, nil)
	descRecordsInRate   = prometheus.NewDesc(opPrefix+"numRecordsInPerSecond", "numRecordsInPerSecond: input rows per second (last 5 s).", opLabels, nil)
	descRecordsOutRate  = prometheus.NewDesc(opPrefix+"numRecordsOutPerSecond", "numRecordsOutPerSecond: output rows per second (last 5 s).", opLabels, nil)
	descInputWatermark  = prometheus.NewDesc(opPrefix+"currentInputWatermark", "currentInputWatermark: the minimum watermark of the operator's inputs, ms since the epoch (Long.MIN_VALUE: none).", opLabels, nil)
	descOutputWatermark = prometheus.NewDesc(opPrefix+"currentOutputWatermark", "currentOutputWatermark: the last watermark the operator emitted, ms since the epoch (Long.MIN_VALUE: none).", opLabels, nil)
	descLagMax          = prometheus.NewDesc(opPrefix+"KafkaSourceReader_KafkaConsumer_records_lag_max", "records-lag-max: the largest lag in records over the source's partitions.", opLabels, nil)
	descPending         = prometheus.NewDesc(opPrefix+"pendingRecords", "pendingRecords: records the source has not read yet (the lag summed over partitions).", opLabels, nil)

	descRestarts      = prometheus.NewDesc(jobPrefix+"numRestarts", "numRestarts: restarts of the job after failures.", jobLabels, nil)
	descCkptDuration  = prometheus.NewDesc(jobPrefix+"lastCheckpointDuration", "lastCheckpointDuration: the duration of the last completed checkpoint, ms.", jobLabels, nil)
	descCkptSize      = prometheus.NewDesc(jobPrefix+"lastCheckpointSize", "lastCheckpointSize: the size of the last completed checkpoint, bytes.", jobLabels, nil)
	descCkptCompleted = prometheus.NewDesc(jobPrefix+"numberOfCompletedCheckpoints", "numberOfCompletedCheckpoints.", jobLabels, nil)
	descCkptFailed    = prometheus.NewDesc(jobPrefix+"numberOfFailedCheckpoints", "numberOfFailedCheckpoints.", jobLabels, nil)
	descUptime        = prometheus.NewDesc(jobPrefix+"uptime", "uptime: ms since the job started.", jobLabels, nil)

	// A scale-out member's counters per keyed stage (JobMetrics.ScaleOut; Sluice's, Flink has no such job).
	stageLabels            = []string{"job_id", "job_name", "stage"}
	descStageRestoredParts = prometheus.NewDesc(jobPrefix+"scaleOutRestoredPartitions", "scaleOutRestoredPartitions: partitions of the keyed stage this member restored from the stage's changelog topic.", stageLabels, nil)
	descStageRestoredRecs  = prometheus.NewDesc(jobPrefix+"scaleOutRestoredRecords", "scaleOutRestoredRecords: changelog records those restores read.", stageLabels, nil)
	descStageKept          = prometheus.NewDesc(jobPrefix+"scaleOutKeptPartitions", "scaleOutKeptPartitions: times a partition's state of the keyed stage was kept over a rebalance instead of restored.", stageLabels, nil)
	descStageAbortDrops    = prometheus.NewDesc(jobPrefix+"scaleOutAbortDrops", "scaleOutAbortDrops: times a partition's state of the keyed stage was dropped after an aborted transaction.", stageLabels, nil)
)

// promCollector reads the counters of the session's running jobs at each scrape.
type promCollector struct{ s *Session }

func (c *promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecordsIn, descRecordsOut, descRecordsInRate, descRecordsOutRate,
		descInputWatermark, descOutputWatermark, descLagMax, descPending,
		descRestarts, descCkptDuration, descCkptSize, descCkptCompleted, descCkptFailed, descUptime,
		descStageRestoredParts, descStageRestoredRecs, descStageKept, descStageAbortDrops} {
		ch <- d
	}
}

func (c *promCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.metrics.mu.Lock()
	jobs := append([]*Job(nil), c.s.metrics.jobs...)
	c.s.metrics.mu.Unlock()
	keep := c.s.metrics.keepLabels.Load()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		if !keep {
			for i, l := range labels {
				labels[i] = filterLabelValue(l)
			}
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, j := range jobs {
		if j.Status() != JobRunning {
			continue // Flink drops a job's metrics when it ends
		}
		m := j.Metrics()
		gauge(descRestarts, float64(m.Restarts), j.id, j.name)
		gauge(descCkptDuration, float64(m.LastCheckpoint.Duration.Milliseconds()), j.id, j.name)
		gauge(descCkptSize, float64(m.LastCheckpoint.Bytes), j.id, j.name)
		gauge(descCkptCompleted, float64(j.CheckpointStats().Count), j.id, j.name)
		gauge(descCkptFailed, float64(m.FailedCheckpoints), j.id, j.name)
		gauge(descUptime, float64(time.Since(j.start).Milliseconds()), j.id, j.name)
		for _, st := range m.ScaleOut {
			n := strconv.Itoa(st.Stage)
			gauge(descStageRestoredParts, float64(st.RestoredPartitions), j.id, j.name, n)
			gauge(descStageRestoredRecs, float64(st.RestoredRecords), j.id, j.name, n)
			gauge(descStageKept, float64(st.Kept), j.id, j.name, n)
			gauge(descStageAbortDrops, float64(st.AbortDrops), j.id, j.name, n)
		}
		for _, o := range m.Operators {
			l := func() []string { return []string{j.id, j.name, strconv.Itoa(o.ID), o.Name, "0"} }
			gauge(descRecordsIn, float64(o.RecordsIn), l()...)
			gauge(descRecordsOut, float64(o.RecordsOut), l()...)
			gauge(descRecordsInRate, o.RecordsInPerSecond, l()...)
			gauge(descRecordsOutRate, o.RecordsOutPerSecond, l()...)
			gauge(descInputWatermark, float64(o.InputWatermark), l()...)
			gauge(descOutputWatermark, float64(o.OutputWatermark), l()...)
			if o.Lag >= 0 {
				gauge(descLagMax, float64(o.LagMax), l()...)
				gauge(descPending, float64(o.Lag), l()...)
			}
		}
	}
}

// filterLabelValue replaces the characters outside [a-zA-Z0-9:_] with '_', as Flink's reporter does when
// 'filterLabelValueCharacters' is on: "Calc[2]" becomes "Calc_2_", "insert-into_t" "insert_into_t".
func filterLabelValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
