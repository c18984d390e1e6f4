// Package filesystem is the 'filesystem' connector: tables stored as files in a directory tree, as Flink's
// filesystem connector writes and reads them.
//
// A partitioned table (PARTITIONED BY (k1, k2)) keeps its rows in directories '<path>/k1=v1/k2=v2/'; the
// partition columns are not stored in the files. Formats are csv, json, raw and the other message formats
// (one row per line), avro (Avro object container files) and parquet (through Apache Arrow).
//
// The sink writes hidden in-progress files ('.part-<uuid>-0-<n>.inprogress.<uuid>'), rolls them by size,
// age and inactivity and on every checkpoint, and makes them visible ('part-<uuid>-0-<n>') when the
// checkpoint that contains them completes (connectors.CheckpointedSink), or at the end of the input.
// Partitions are committed (a '_SUCCESS' file) by the partition-commit trigger and policy. The source reads
// every visible file below the path once (bounded), or keeps watching for new files with
// 'source.monitor-interval' (streaming).
package filesystem

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Option declarations: Flink's filesystem connector options that Sluice implements.
var (
	Path = options.String("path").Required().
		Desc("The directory (or, for a source, a single file) of the table: a local path or a file:// URL.")
	Format = options.String("format").Required().
		Desc("File format: csv, json, raw, avro, parquet (and the other row formats, one row per line).")
	MonitorInterval = options.Duration("source.monitor-interval").
			Desc("Streaming source: look for new files this often (the source never ends). Unset: the source reads the files present when it starts and ends.")
	DefaultPartitionName = options.String("partition.default-name").Default("__DEFAULT_PARTITION__").
				Desc("Directory name of the partition whose value is NULL or the empty string.")
	RollingFileSize = options.Memory("sink.rolling-policy.file-size").Default(128 << 20).
			Desc("A part file is rolled (closed) when it reaches this size.")
	RollingRollover = options.Duration("sink.rolling-policy.rollover-interval").Default(30 * time.Minute).
			Desc("A part file is rolled when it has been open this long (checked every check-interval).")
	RollingCheck = options.Duration("sink.rolling-policy.check-interval").Default(time.Minute).
			Desc("How often the time-based rolling policies are checked.")
	RollingInactivity = options.Duration("sink.rolling-policy.inactivity-interval").Default(30 * time.Minute).
				Desc("A part file is rolled when no row was written to it for this long (checked every check-interval).")
	CommitTrigger = options.Enum("sink.partition-commit.trigger", "process-time", "partition-time").Default("process-time").
			Desc("When a partition is committed: 'process-time' (delay after the partition got its first row in this run) or 'partition-time' (when the watermark passes the time extracted from the partition values plus the delay).")
	CommitDelay = options.Duration("sink.partition-commit.delay").Default(0).
			Desc("Delay before a partition is committed.")
	CommitWatermarkZone = options.String("sink.partition-commit.watermark-time-zone").Default("UTC").
				Desc("Time zone in which partition times are compared with the watermark (partition-time trigger); use the session time zone when the watermark is on TIMESTAMP_LTZ.")
	CommitPolicy = options.String("sink.partition-commit.policy.kind").
			Desc("Comma-separated commit policies: 'success-file' (write the success file into the partition directory) and 'metastore' (accepted; the filesystem table has no metastore, as in Flink it does nothing). 'custom' is not supported.")
	SuccessFileName = options.String("sink.partition-commit.success-file.name").Default("_SUCCESS").
			Desc("Name of the success file of the 'success-file' policy.")
	ExtractorKind = options.Enum("partition.time-extractor.kind", "default").Default("default").
			Desc("How partition times are extracted: 'default' (timestamp-pattern and timestamp-formatter). 'custom' is not supported.")
	ExtractorPattern = options.String("partition.time-extractor.timestamp-pattern").
				Desc("How to build the timestamp text from the partition values, e.g. '$dt $hour:00:00'. Unset: the first partition value.")
	ExtractorFormatter = options.String("partition.time-extractor.timestamp-formatter").Default("yyyy-MM-dd HH:mm:ss").
				Desc("Java DateTimeFormatter pattern of the timestamp text (letters y M d H m s S, and literals).")
	SinkParallelism = options.Int("sink.parallelism").
			Desc("Accepted for compatibility; the sink runs as one instance.")
	ShuffleByPartition = options.Bool("sink.shuffle-by-partition.enable").Default(false).
				Desc("Accepted for compatibility; with one sink instance every partition is written by one writer anyway.")
)

// Factory is the filesystem connector factory.
type Factory struct{}

// NewFactory returns the filesystem factory.
func NewFactory() *Factory { return &Factory{} }

var (
	_ connectors.SourceFactory  = (*Factory)(nil)
	_ connectors.SinkFactory    = (*Factory)(nil)
	_ connectors.OptionsChecker = (*Factory)(nil)
)

func (*Factory) Identifier() string { return "filesystem" }

func (*Factory) Options() []options.Decl {
	return options.Decls(Path, Format, MonitorInterval, DefaultPartitionName, RollingFileSize, RollingRollover,
		RollingCheck, RollingInactivity, CommitTrigger, CommitDelay, CommitWatermarkZone, CommitPolicy, SuccessFileName,
		ExtractorKind, ExtractorPattern, ExtractorFormatter, SinkParallelism, ShuffleByPartition, LookupCacheTTL, WatermarkIdleTimeout)
}

// CheckOptions checks the option values that the declarations cannot: commit policies, the time extractor,
// the watermark time zone, positive sizes and intervals.
func (f *Factory) CheckOptions(opts map[string]string) error {
	r, err := connectors.ValidateOptions(f, opts)
	if err != nil {
		return err
	}
	if _, err = settingsFrom(r, nil); err != nil {
		return err
	}
	if c := opts["avro.codec"]; opts["format"] == "avro" && (c == "bzip2" || c == "xz") {
		return optErr("avro.codec", "Invalid value for option 'avro.codec': Sluice writes and reads Avro files with 'null', 'deflate', 'snappy' or 'zstandard', not '%s'", c)
	}
	return nil
}

// settings are the table's resolved connector options.
type settings struct {
	path            string
	format          string
	monitor         time.Duration
	defaultPart     string
	fileSize        int64
	rollover        time.Duration
	check           time.Duration
	inactivity      time.Duration
	partitionTime   bool
	delay           time.Duration
	wmZone          *time.Location
	successFile     bool
	successName     string
	extractor       *timeExtractor
	partitionKeys   []string
	partitionIdx    []int // positions of the partition columns among the physical columns
	dataIdx         []int // positions of the other physical columns
	physical        types.Type
	fileRow         types.Type // ROW of the columns stored in the files
	partitionTypes  []types.Type
	partitionFields []string
	lookupTTL       time.Duration // lookup joins: how long the files read stay in memory
	idle            time.Duration // 'scan.watermark.idle-timeout' when hasIdle (splits.go)
	hasIdle         bool
}

func optErr(key, format string, args ...any) error {
	return &options.Error{Keys: []string{key}, Msg: fmt.Sprintf(format, args...)}
}

func settingsFrom(r *options.Resolved, t *catalog.Table) (*settings, error) {
	s := &settings{format: Format.Get(r), defaultPart: DefaultPartitionName.Get(r)}
	p := Path.Get(r)
	if strings.HasPrefix(p, "file://") {
		p = strings.TrimPrefix(p, "file://")
	} else if i := strings.Index(p, "://"); i > 0 {
		return nil, optErr(Path.Key(), "Invalid value for option 'path': scheme '%s' is not supported; Sluice's filesystem connector reads and writes local paths or file:// URLs", p[:i])
	}
	if p == "" {
		return nil, optErr(Path.Key(), "Invalid value for option 'path': it must not be empty")
	}
	s.path = p
	s.monitor = MonitorInterval.Get(r)
	if s.lookupTTL = LookupCacheTTL.Get(r); s.lookupTTL <= 0 {
		return nil, optErr(LookupCacheTTL.Key(), "Invalid value for option 'lookup.join.cache.ttl': '%s' must be positive, e.g. '10 min'", options.FormatDuration(s.lookupTTL))
	}
	if s.idle, s.hasIdle = WatermarkIdleTimeout.Lookup(r); s.idle < 0 {
		return nil, optErr(WatermarkIdleTimeout.Key(), "Invalid value for option 'scan.watermark.idle-timeout': '%s' must not be negative (0 disables idleness)", options.FormatDuration(s.idle))
	}
	if v, ok := MonitorInterval.Lookup(r); ok && v <= 0 {
		return nil, optErr(MonitorInterval.Key(), "Invalid value for option 'source.monitor-interval': '%s' must be positive", options.FormatDuration(s.monitor))
	}
	s.fileSize = int64(RollingFileSize.Get(r))
	s.rollover, s.check, s.inactivity = RollingRollover.Get(r), RollingCheck.Get(r), RollingInactivity.Get(r)
	for _, k := range []options.Key[time.Duration]{RollingRollover, RollingCheck, RollingInactivity} {
		if k.Get(r) <= 0 {
			return nil, optErr(k.Key(), "Invalid value for option '%s': '%s' must be positive", k.Key(), options.FormatDuration(k.Get(r)))
		}
	}
	if s.fileSize <= 0 {
		return nil, optErr(RollingFileSize.Key(), "Invalid value for option 'sink.rolling-policy.file-size': it must be positive")
	}
	s.partitionTime = CommitTrigger.Get(r) == "partition-time"
	s.delay = CommitDelay.Get(r)
	z := CommitWatermarkZone.Get(r)
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, optErr(CommitWatermarkZone.Key(), "Invalid value for option 'sink.partition-commit.watermark-time-zone': '%s' is not a time zone id (e.g. 'UTC', 'Asia/Shanghai')", z)
	}
	s.wmZone = loc
	for _, k := range strings.Split(CommitPolicy.Get(r), ",") {
		if strings.TrimSpace(k) == "" {
			continue
		}
		switch strings.TrimSpace(k) {
		case "success-file":
			s.successFile = true
		case "metastore":
		case "custom":
			return nil, optErr(CommitPolicy.Key(), "Invalid value for option 'sink.partition-commit.policy.kind': 'custom' needs a Java class ('sink.partition-commit.policy.class'), which Sluice cannot load; use 'success-file'")
		default:
			return nil, optErr(CommitPolicy.Key(), "Invalid value for option 'sink.partition-commit.policy.kind': '%s' is not a policy; use 'success-file' and/or 'metastore', separated by commas", k)
		}
	}
	s.successName = SuccessFileName.Get(r)
	if s.successName == "" || strings.ContainsRune(s.successName, os.PathSeparator) {
		return nil, optErr(SuccessFileName.Key(), "Invalid value for option 'sink.partition-commit.success-file.name': '%s' must be a plain file name", s.successName)
	}
	s.extractor, err = newTimeExtractor(ExtractorPattern.Get(r), ExtractorFormatter.Get(r))
	if err != nil {
		return nil, err
	}
	if n, ok := SinkParallelism.Lookup(r); ok && n < 1 {
		return nil, optErr(SinkParallelism.Key(), "Invalid value for option 'sink.parallelism': '%d' must be at least 1", n)
	}
	if t == nil {
		return s, nil
	}
	return s, s.bindTable(t)
}

// bindTable finds the partition columns and the columns stored in the files.
func (s *settings) bindTable(t *catalog.Table) error {
	var meta []string
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn {
			meta = append(meta, c.Name)
		}
	}
	if len(meta) > 0 {
		return &options.Error{Msg: fmt.Sprintf("Table '%s' declares metadata columns (%s), but connector 'filesystem' does not support metadata. Remove the METADATA columns.", t.Name, strings.Join(meta, ", "))}
	}
	s.physical = t.PhysicalRowType()
	isPart := map[string]int{}
	for i, k := range t.PartitionKeys {
		isPart[k] = i
	}
	s.partitionKeys = t.PartitionKeys
	s.partitionIdx = make([]int, len(t.PartitionKeys))
	s.partitionTypes = make([]types.Type, len(t.PartitionKeys))
	var fileFields []types.Field
	for i, f := range s.physical.Fields {
		if j, ok := isPart[f.Name]; ok {
			s.partitionIdx[j] = i
			s.partitionTypes[j] = f.Type
			continue
		}
		s.dataIdx = append(s.dataIdx, i)
		fileFields = append(fileFields, f)
	}
	if len(fileFields) == 0 {
		return &options.Error{Msg: fmt.Sprintf("Table '%s': every column is a partition column; the files need at least one other column", t.Name)}
	}
	s.fileRow = types.RowType(fileFields...)
	return nil
}
