package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Runtime modes (execution.runtime-mode).
const (
	ModeStreaming = "streaming"
	ModeBatch     = "batch"
	ModeAutomatic = "automatic"
)

// Session options are validated and stored by Session.set, declared in sessionopts_keys.go.

// ErrValidation is wrapped by invalid session options.
var ErrValidation = catalog.ErrValidation

// ErrInternal is wrapped by errors that stem from a bug (a recovered panic, a planner rule that loops), not
// from the statement.
var ErrInternal = planner.ErrInternal

func loadZone(v string) (*time.Location, error) {
	if v == "" || v == "default" {
		return time.Local, nil // Flink's default: the system zone
	}
	if len(v) == 6 && (v[0] == '+' || v[0] == '-') && v[3] == ':' {
		h, err1 := strconv.Atoi(v[1:3])
		m, err2 := strconv.Atoi(v[4:])
		if err1 == nil && err2 == nil {
			off := h*3600 + m*60
			if v[0] == '-' {
				off = -off
			}
			return time.FixedZone(v, off), nil
		}
	}
	if strings.HasPrefix(v, "GMT") || strings.HasPrefix(v, "UTC") {
		if rest := v[3:]; rest == "" {
			return time.UTC, nil
		} else if loc, err := loadZone(rest); err == nil {
			return loc, nil
		}
	}
	return time.LoadLocation(v)
}

// Option returns a session option's value and whether it is set. Any spelling of a key finds it (options
// are stored under their canonical key, e.g. 'state.backend' under 'state.backend.type').
func (s *Session) Option(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := sessionKeyIndex[key]; ok {
		key = k.key
	}
	v, ok := s.opts[key]
	return v, ok
}

// Options returns a copy of the session options.
func (s *Session) Options() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.opts {
		out[k] = v
	}
	return out
}

func (s *Session) runtimeMode() string {
	if m, ok := s.opts["execution.runtime-mode"]; ok {
		return m
	}
	return ModeStreaming
}

// Location is the session time zone (table.local-time-zone, UTC by default).
func (s *Session) Location() *time.Location {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.location()
}

func (s *Session) location() *time.Location {
	loc, err := loadZone(s.opts["table.local-time-zone"])
	if err != nil {
		return time.UTC
	}
	return loc
}

// newPlanner returns a planner for one statement. Its Session is a copy of the session's options: sources and
// sinks keep the connectors.Context they were created with and may read it while the job runs (a Kafka
// subtask builds its decoders when it starts), after SET/RESET changed the session.
func (s *Session) newPlanner(batch bool, params []types.Value) *planner.Planner {
	return &planner.Planner{
		Catalog: s.cat, Connectors: s.connectors, Formats: s.formats, Session: maps.Clone(s.opts), Batch: batch,
		Env: s.env(), Params: params, Stdout: s.cfg.Stdout, Stderr: s.cfg.Stderr,
	}
}

// Execute runs one statement.
func (s *Session) Execute(ctx context.Context, stmt sql.Statement) (*Result, error) {
	return s.ExecuteWithParams(ctx, stmt, nil)
}

// ExecuteWithParams runs one statement with values for its positional parameters (? or $n).
func (s *Session) ExecuteWithParams(ctx context.Context, stmt sql.Statement, params []types.Value) (res *Result, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, sql.Errorf(stmt.Position(), ErrInternal, "internal error: %v (please report this with the statement)", r)
		}
	}()
	switch st := stmt.(type) {
	case *sql.CreateTable:
		if st.AsQuery != nil {
			return s.createTableAs(ctx, st, params)
		}
		t, err := s.cat.CreateTable(st)
		if err != nil {
			return nil, err
		}
		if err := s.newPlanner(false, params).ResolveComputed(t); err != nil {
			_ = s.cat.Drop(&sql.Drop{Name: st.Name, IfExists: true})
			return nil, err
		}
		if err := s.validateTable(t); err != nil {
			_ = s.cat.Drop(&sql.Drop{Name: st.Name, IfExists: true})
			return nil, err
		}
		for _, w := range t.Warnings {
			fmt.Fprintln(s.cfg.Notice, w)
		}
		return ok("[INFO] Execute statement succeed."), nil
	case *sql.AlterTable:
		if _, found := s.cat.Table(st.Name); !found {
			if st.IfExists {
				return ok("[INFO] Execute statement succeed."), nil
			}
			return nil, s.cat.NotFound(st.Name)
		}
		if st.RenameTo != nil {
			if err := s.cat.RenameTable(st.Name, *st.RenameTo); err != nil {
				return nil, err
			}
			return ok("[INFO] Execute statement succeed."), nil
		}
		nt, err := s.cat.AlterOptions(st.Name, st.Set, st.Reset)
		if err != nil {
			return nil, err
		}
		if err := s.validateTable(nt); err != nil {
			msg := err.Error()
			if _, _, m, ok := sql.Position(err); ok {
				msg = m
			}
			return nil, sql.Errorf(st.P, ErrValidation, "%s", msg)
		}
		s.cat.Replace(st.Name, nt)
		return ok("[INFO] Execute statement succeed."), nil
	case *sql.CreateView:
		p := s.newPlanner(false, params)
		n, err := p.PlanQuery(st.Query)
		if err != nil {
			return nil, err
		}
		var cols []string
		for _, f := range n.Fields() {
			cols = append(cols, f.Name)
		}
		if len(st.Columns) > 0 {
			if len(st.Columns) != len(cols) {
				return nil, sql.Errorf(st.Name.P, ErrValidation, "view %s lists %d columns but its query produces %d", st.Name, len(st.Columns), len(cols))
			}
			cols = nil
			for _, c := range st.Columns {
				cols = append(cols, c.Name)
			}
		}
		if err := s.cat.CreateView(st, cols); err != nil {
			return nil, err
		}
		return ok("[INFO] Execute statement succeed."), nil
	case *sql.Drop:
		if err := s.cat.Drop(st); err != nil {
			return nil, err
		}
		return ok("[INFO] Execute statement succeed."), nil
	case *sql.CreateFunction:
		return s.createFunction(ctx, st) // functions.go
	case *sql.DropFunction:
		return s.dropFunction(st)
	case *sql.Set:
		if st.Key == "" {
			return s.listOptions(), nil
		}
		if err := s.set(st.Key, st.Value); err != nil {
			return nil, &sql.Error{Pos: st.P, Msg: strings.TrimPrefix(err.Error(), ErrValidation.Error()+": "), Err: ErrValidation}
		}
		return ok("[INFO] Session property has been set."), nil
	case *sql.Reset:
		if err := s.reset(st.Key); err != nil {
			return nil, &sql.Error{Pos: st.P, Msg: strings.TrimPrefix(err.Error(), ErrValidation.Error()+": "), Err: ErrValidation}
		}
		if st.Key == "" {
			return ok("[INFO] All session properties have been set to their default values."), nil
		}
		return ok("[INFO] Session property has been reset."), nil
	case *sql.Show:
		return s.show(st)
	case *sql.Describe:
		return s.describe(st)
	case *sql.Use:
		n := st.Name.Name()
		if n != "default_catalog" && n != "default_database" {
			return nil, sql.Errorf(st.Name.P, catalog.ErrNotFound, "%s %s does not exist; Sluice has one catalog 'default_catalog' with one database 'default_database'", map[bool]string{true: "catalog", false: "database"}[st.Catalog], st.Name)
		}
		return ok("[INFO] Execute statement succeed."), nil
	case *sql.Explain:
		return s.explain(st, params)
	case *sql.QueryStmt:
		return s.runQuery(ctx, st.Query, params)
	case *sql.Insert:
		return s.submit(ctx, []*sql.Insert{st}, st.Text, params)
	case *sql.StopJob:
		return s.stopJob(ctx, st)
	case *sql.DescribeJob:
		return s.describeJob(st) // metrics_show.go
	case *sql.StatementSet:
		if len(st.Inserts) == 0 {
			return nil, sql.Errorf(st.P, ErrValidation, "the statement set is empty; put INSERT statements between BEGIN and END")
		}
		return s.submit(ctx, st.Inserts, st.Text, params)
	}
	return nil, sql.Errorf(stmt.Position(), planner.ErrUnsupported, "statement not supported yet")
}

func ok(msg string) *Result { return &Result{Kind: ResultOK, Message: msg} }

func (s *Session) noteBatchCheckpointing() {
	for k := range s.opts {
		if strings.HasPrefix(k, "execution.checkpointing.") || strings.HasPrefix(k, "state.backend") || k == "execution.savepoint.path" || k == "table.exec.state.ttl" {
			fmt.Fprintf(s.cfg.Notice, "[WARNING] %s is ignored in batch mode: batch jobs do not checkpoint; a failed stage is re-run instead\n", k)
		}
	}
}

// validateTable checks the connector and its options at CREATE time, so that mistakes show up where the DDL
// is, with the option's position.
func (s *Session) validateTable(t *catalog.Table) error {
	f, err := s.connectors.Lookup(t.Options["connector"])
	if err != nil {
		return s.optionErr(t, "connector", err)
	}
	if _, err := connectors.ValidateTable(f, t.Options, s.formats); err != nil {
		return s.optionErr(t, "", err)
	}
	if c, ok := f.(connectors.OptionsChecker); ok {
		if err := c.CheckOptions(t.Options); err != nil {
			return s.optionErr(t, "", err)
		}
	}
	if c, ok := f.(connectors.TableChecker); ok {
		ctx := connectors.Context{Table: t, Options: t.Options, Formats: s.formats, Session: s.opts, Stdout: s.cfg.Stdout, Stderr: s.cfg.Stderr}
		if err := c.CheckTable(ctx); err != nil {
			return s.optionErr(t, "", err)
		}
	}
	_, tasks := f.(connectors.TaskSinkFactory)
	if w := sinkParallelismWarning(t, tasks, s.runtimeMode() == ModeBatch); w != "" {
		t.Warnings = append(t.Warnings, w)
	}
	if w := sinkShuffleWarning(t, tasks, s.runtimeMode() == ModeBatch); w != "" {
		t.Warnings = append(t.Warnings, w)
	}
	return nil
}

// sinkShuffleWarning says when 'sink.shuffle-by-partition.enable' = 'true' has no effect: a batch job hashes
// a connectors.TaskSink's rows by the partition columns in front of its tasks (batch_sink.go); a streaming
// job writes the sink from its input's subtasks, so a partition can get files from several of them. The
// rows written are the same either way.
func sinkShuffleWarning(t *catalog.Table, tasks, batch bool) string {
	if !strings.EqualFold(strings.TrimSpace(t.Options["sink.shuffle-by-partition.enable"]), "true") || tasks && batch {
		return ""
	}
	return fmt.Sprintf("[WARNING] Table %s: 'sink.shuffle-by-partition.enable' = 'true' has effect in batch mode only: a streaming job writes a '%s' sink from the subtasks of its input, and a partition may get files from several of them (the rows written are the same).",
		t.Name, t.Options["connector"])
}

// sinkParallelismWarning says when a 'sink.parallelism' above 1 has no effect (the connector validated the
// value). A batch job writes a connectors.TaskSink with that many tasks (batch_sink.go); a streaming job
// writes the sinks that several subtasks can write (planner.MultiWriterSink: print, blackhole, filesystem,
// kafka, upsert-kafka) with that many subtasks, behind an exchange when it differs from the input's
// parallelism (planner/sink_parallelism.go): no warning then. Every other sink runs as one writer per job.
// The rows written, and their order per key, are what Flink writes with several writers, so the option is
// accepted but never silently.
func sinkParallelismWarning(t *catalog.Table, tasks, batch bool) string {
	v, ok := t.Options["sink.parallelism"]
	if !ok {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 1 || tasks && batch || !batch && planner.MultiWriterSink(t.Options["connector"]) {
		return ""
	}
	if tasks {
		return fmt.Sprintf("[WARNING] Table %s: 'sink.parallelism' = '%d' has effect in batch mode only: a streaming job writes a '%s' sink with one writer per job (the rows written are the same).",
			t.Name, n, t.Options["connector"])
	}
	return fmt.Sprintf("[WARNING] Table %s: 'sink.parallelism' = '%d' has no effect: Sluice writes a '%s' sink with one writer per job (the rows written are the same). Remove the option to silence this warning.",
		t.Name, n, t.Options["connector"])
}

// optionErr positions an error about table t's options at the option it names: key, else the first key of
// an *options.Error that the DDL gives, else the option quoted last in the message, else one listed on a
// line of its own (Flink's "Unsupported options:" list); the table's name when none.
func (s *Session) optionErr(t *catalog.Table, key string, err error) error {
	given := func(k string) bool {
		for _, o := range t.Def.Options {
			if o.Key == k {
				return true
			}
		}
		return false
	}
	var oe *options.Error
	if key == "" && errors.As(err, &oe) {
		for _, k := range oe.Keys {
			if given(k) {
				key = k
				break
			}
		}
	}
	msg := err.Error()
	if key == "" {
		// The option quoted last: wrapped errors name their innermost cause at the end ("format 'csv'
		// (option 'format'): Option 'csv.field-delimiter' must be ...").
		last := -1
		for _, o := range t.Def.Options {
			if i := strings.LastIndex(msg, "'"+o.Key+"'"); i > last {
				last, key = i, o.Key
			}
		}
	}
	for _, o := range t.Def.Options {
		if key == "" && (strings.Contains(msg, "\n"+o.Key+"\n") || strings.HasSuffix(msg, "\n"+o.Key)) {
			key = o.Key
		}
	}
	pos := t.Def.Name.P
	for _, o := range t.Def.Options {
		if o.Key == key {
			pos = o.P
		}
	}
	return &sql.Error{Pos: pos, Msg: fmt.Sprintf("table %s: %v", t.Name, err), Err: err}
}

func (s *Session) listOptions() *Result {
	var keys []string
	for k := range s.opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := &Result{Kind: ResultTable, Columns: []Column{{"key", types.StringType()}, {"value", types.StringType()}}}
	for _, k := range keys {
		r.Rows = append(r.Rows, []types.Value{types.StringValue(k), types.StringValue(s.opts[k])})
	}
	return r
}

func stringTable(cols []string, rows [][]string) *Result {
	r := &Result{Kind: ResultTable}
	for _, c := range cols {
		r.Columns = append(r.Columns, Column{Name: c, Type: types.StringType()})
	}
	for _, row := range rows {
		var vs []types.Value
		for _, v := range row {
			vs = append(vs, types.StringValue(v))
		}
		r.Rows = append(r.Rows, vs)
	}
	return r
}

func (s *Session) show(st *sql.Show) (*Result, error) {
	var rows [][]string
	switch st.What {
	case "TABLES":
		for _, n := range s.cat.TableNames() {
			rows = append(rows, []string{n})
		}
		for _, n := range s.cat.ViewNames() {
			rows = append(rows, []string{n})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
		return stringTable([]string{"table name"}, rows), nil
	case "VIEWS":
		for _, n := range s.cat.ViewNames() {
			rows = append(rows, []string{n})
		}
		return stringTable([]string{"view name"}, rows), nil
	case "CREATE TABLE":
		t, ok := s.cat.Table(st.Name)
		if !ok {
			return nil, s.cat.NotFound(st.Name)
		}
		return stringTable([]string{"result"}, [][]string{{t.CreateStatement()}}), nil
	case "CREATE VIEW":
		v, ok := s.cat.View(st.Name)
		if !ok {
			return nil, s.cat.NotFound(st.Name)
		}
		return stringTable([]string{"result"}, [][]string{{fmt.Sprintf("CREATE VIEW %s AS\n%s", sql.QuoteIdentIfNeeded(v.Name), v.QueryText)}}), nil
	case "USER FUNCTIONS":
		var names []string
		for n := range s.functions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rows = append(rows, []string{n})
		}
		return stringTable([]string{"function name"}, rows), nil
	case "FUNCTIONS":
		names := append(expr.FunctionNames(), planner.AggregateFunctionNames()...)
		for n := range s.functions {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			if i == 0 || names[i-1] != n {
				rows = append(rows, []string{n})
			}
		}
		return stringTable([]string{"function name"}, rows), nil
	case "CATALOGS", "CURRENT CATALOG":
		return stringTable([]string{"catalog name"}, [][]string{{"default_catalog"}}), nil
	case "DATABASES", "CURRENT DATABASE":
		return stringTable([]string{"database name"}, [][]string{{"default_database"}}), nil
	case "JOBS":
		return s.showJobs(), nil // metrics_show.go
	}
	return nil, sql.Errorf(st.P, planner.ErrUnsupported, "SHOW %s is not supported", st.What)
}

func (s *Session) describe(st *sql.Describe) (*Result, error) {
	if t, ok := s.cat.Table(st.Name); ok {
		r := stringTable(catalog.DescribeColumns, t.Describe())
		r.Message = t.OptionsText()
		return r, nil
	}
	if v, ok := s.cat.View(st.Name); ok {
		p := s.newPlanner(false, nil)
		n, err := p.PlanQuery(v.Query)
		if err != nil {
			return nil, err
		}
		var rows [][]string
		for i, f := range n.Fields() {
			name := f.Name
			if i < len(v.Columns) {
				name = v.Columns[i]
			}
			null := "TRUE"
			if f.Type.NotNull {
				null = "FALSE"
			}
			rows = append(rows, []string{name, f.Type.String(), null, "", "", ""})
		}
		return stringTable(catalog.DescribeColumns, rows), nil
	}
	return nil, s.cat.NotFound(st.Name)
}

// plan plans a query or inserts in the session's runtime mode. For 'automatic' it plans in streaming mode,
// then again in batch mode when every source is bounded.
func (s *Session) plan(params []types.Value, build func(p *planner.Planner) ([]planner.Node, error)) ([]planner.Node, bool, error) {
	mode := s.runtimeMode()
	batch := mode == ModeBatch
	nodes, err := build(s.newPlanner(batch, params))
	if err != nil {
		return nil, false, err
	}
	if mode == ModeAutomatic {
		bounded := true
		for _, n := range nodes {
			for _, sc := range planner.Sources(n) {
				bounded = bounded && sc.Source.Bounded()
			}
		}
		if bounded {
			if nodes, err = build(s.newPlanner(true, params)); err != nil {
				return nil, false, err
			}
			batch = true
		}
	}
	if reuse, ok, _ := sessionBool(s.opts, "table.optimizer.reuse-source-enabled"); reuse || !ok {
		nodes = planner.ReuseSources(nodes)
	}
	planner.PushProjections(nodes)
	planner.PushScanFilters(nodes)
	return nodes, batch, nil
}

func (s *Session) explain(st *sql.Explain, params []types.Value) (*Result, error) {
	modes, verbose := false, false
	for _, d := range st.Details {
		switch d {
		case "CHANGELOG_MODE":
			modes = true
		case "VERBOSE":
			verbose = true
		case "ESTIMATED_COST", "JSON_EXECUTION_PLAN", "PLAN_ADVICE":
		default:
			return nil, sql.Errorf(st.P, planner.ErrUnsupported, "EXPLAIN detail %s is not supported", d)
		}
	}
	var trace *planner.Trace
	_, batch, err := s.plan(params, func(p *planner.Planner) ([]planner.Node, error) {
		trace = &planner.Trace{} // automatic mode plans twice: keep the last
		p.Trace = trace
		switch in := st.Stmt.(type) {
		case *sql.QueryStmt:
			n, err := p.PlanQuery(in.Query)
			return []planner.Node{n}, err
		case *sql.Insert:
			n, err := p.PlanInsert(in)
			return []planner.Node{n}, err
		case *sql.StatementSet:
			var out []planner.Node
			for _, ins := range in.Inserts {
				n, err := p.PlanInsert(ins)
				if err != nil {
					return nil, err
				}
				out = append(out, n)
			}
			return out, nil
		}
		return nil, sql.Errorf(st.P, planner.ErrUnsupported, "EXPLAIN supports queries, INSERT and statement sets")
	})
	if err != nil {
		return nil, err
	}
	mode := "streaming"
	if batch {
		mode = "batch"
	}
	return &Result{Kind: ResultOK, Message: planner.ExplainText(trace, mode, modes, verbose)}, nil
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// submit plans inserts and starts them as one job.
func (s *Session) submit(ctx context.Context, inserts []*sql.Insert, text string, params []types.Value) (*Result, error) {
	nodes, batch, err := s.plan(params, func(p *planner.Planner) ([]planner.Node, error) {
		var out []planner.Node
		for _, ins := range inserts {
			n, err := p.PlanInsert(ins)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	if batch {
		setRunIdentities(nodes, text, params) // batch_sink.go
	}
	if s.scaleOutEnabled() {
		s.noteScanParallelism(nil, nodes, batch)
		return s.submitScaleOut(ctx, inserts, nodes, batch, text) // scaleout.go
	}
	if batch {
		s.noteBatchCheckpointing()
	}
	name := s.opts["pipeline.name"]
	if name == "" {
		name = "insert-into_" + inserts[0].Table.String()
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &Job{id: newJobID(), name: name, cancel: cancel, done: make(chan struct{}), status: JobRunning, start: time.Now()}
	j.origin, j.stmt = originOf(ctx, inserts[0].Position()), text
	j.metrics.setRoots(nodes)
	g := s.newGraph(batch)
	if err := s.prepareBackend(g, j); err != nil {
		cancel()
		return nil, sql.Errorf(inserts[0].Position(), ErrValidation, "%s", strings.TrimPrefix(err.Error(), ErrValidation.Error()+": "))
	}
	if _, set := s.opts["sluice.batch.savepoint-dir"]; set && batch {
		if g.bsp, err = s.newBatchSavepoint(inserts, nodes, params); err != nil {
			cancel()
			return nil, sql.Errorf(inserts[0].Position(), ErrValidation, "'sluice.batch.savepoint-dir': %v", err)
		}
	}
	g.countParents(nodes)
	if err := g.buildJob(nodes, j, s.blockingExchanges()); err != nil {
		cancel()
		g.abandon()
		return nil, err
	}
	s.noteScanParallelism(g, nodes, batch)
	restart, err := s.prepareState(ctx, g, j, nodes, batch)
	if err != nil {
		cancel()
		g.abandon()
		return nil, sql.Errorf(inserts[0].Position(), ErrValidation, "%s", strings.TrimPrefix(err.Error(), ErrValidation.Error()+": "))
	}
	s.jobs = append(s.jobs, j)
	s.noteJob(j)
	if s.cfg.OnSubmit != nil {
		s.cfg.OnSubmit(j)
	}
	j.graph = g
	go j.supervise(jctx, g, restart)
	if s.opts["table.dml-sync"] == "true" {
		s.mu.Unlock()
		err := j.Wait(ctx)
		s.mu.Lock()
		if err != nil {
			return nil, err
		}
	}
	return &Result{Kind: ResultJob, Job: j, Batch: batch, Message: "Job ID: " + j.id}, nil
}

// runQuery plans a SELECT and starts it; rows stream through the QueryResult.
func (s *Session) runQuery(ctx context.Context, q *sql.Query, params []types.Value) (*Result, error) {
	nodes, batch, err := s.plan(params, func(p *planner.Planner) ([]planner.Node, error) {
		n, err := p.PlanQuery(q)
		return []planner.Node{n}, err
	})
	if err != nil {
		return nil, err
	}
	root := nodes[0]
	qctx, cancel := context.WithCancel(ctx)
	qr := &QueryResult{rows: make(chan changelog.Row, 1024), done: make(chan struct{}), cancel: cancel}
	j := &Job{id: newJobID(), name: "collect", cancel: cancel, done: make(chan struct{}), status: JobRunning, start: time.Now()}
	j.metrics.setRoots(nodes)
	g := s.newGraph(batch)
	collect := &collectOutput{ctx: qctx, ch: qr.rows}
	if err := g.buildQuery(root, collect, j, s.blockingExchanges()); err != nil { // batch: in stages (batch_select.go)
		cancel()
		g.abandon()
		return nil, err
	}
	qr.job = j
	s.noteScanParallelism(g, nodes, batch)
	if _, err := s.prepareState(ctx, g, j, []planner.Node{root}, batch); err != nil {
		cancel()
		g.abandon()
		return nil, sql.Errorf(q.P, ErrValidation, "%s", strings.TrimPrefix(err.Error(), ErrValidation.Error()+": "))
	}
	go func() {
		j.run(qctx, g)
		qr.err = j.err
		if errors.Is(qr.err, context.Canceled) {
			qr.err = nil
		}
		if qr.err == nil && j.Status() == JobCancelled {
			// Close or the job's Cancel stopped the query: a normal end. The ctx of Execute ending is not.
			qr.err = ctx.Err()
		}
		close(qr.rows)
		close(qr.done)
	}()
	var cols []Column
	for _, f := range root.Fields() {
		cols = append(cols, Column{Name: f.Name, Type: f.Type})
	}
	return &Result{Kind: ResultQuery, Columns: cols, Query: qr, Batch: batch}, nil
}

// collectOutput copies rows into the result channel.
type collectOutput struct {
	ctx context.Context
	ch  chan changelog.Row
}

func (c *collectOutput) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		row := changelog.Row{Kind: r.Kind, Vals: changelog.CopyVals(r.Vals)}
		select {
		case c.ch <- row:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
	return nil
}
func (c *collectOutput) Watermark(int64) error { return nil }
func (c *collectOutput) End() error            { return nil }

// createTableAs runs CREATE TABLE t WITH (...) AS query: the table gets the query's columns, then the
// query's rows are inserted into it as a job (like Flink 1.16's CTAS). The table stays when the job fails.
func (s *Session) createTableAs(ctx context.Context, st *sql.CreateTable, params []types.Value) (*Result, error) {
	if _, exists := s.cat.Table(st.Name); exists {
		if st.IfNotExists {
			return ok("[INFO] Execute statement succeed."), nil
		}
	}
	n, err := s.newPlanner(false, params).PlanQuery(st.AsQuery) // for the columns; submit plans in the session's mode
	if err != nil {
		return nil, err
	}
	def := *st
	def.AsQuery, def.AsQueryText = nil, ""
	for _, f := range n.Fields() {
		// Unaliased expressions keep Flink's names (EXPR$1: the select-list position); only internal
		// names ($window_start of a legacy group window) need an alias.
		if strings.HasPrefix(f.Name, "$") {
			return nil, sql.Errorf(st.AsQuery.P, ErrValidation, "CREATE TABLE ... AS SELECT: give every computed column of the query a name (expr AS name); one is named %s", f.Name)
		}
		def.Columns = append(def.Columns, &sql.ColumnDef{P: st.Name.P, Name: f.Name, Kind: sql.PhysicalColumn, Type: f.Type.WithNullable(true)})
	}
	t, err := s.cat.CreateTable(&def)
	if err != nil {
		return nil, err
	}
	if err := s.validateTable(t); err != nil {
		_ = s.cat.Drop(&sql.Drop{Name: st.Name, IfExists: true})
		return nil, err
	}
	ins := &sql.Insert{StmtBase: st.StmtBase, Table: st.Name, Query: st.AsQuery}
	return s.submit(ctx, []*sql.Insert{ins}, st.Text, params)
}

// stopJob runs STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN].
func (s *Session) stopJob(ctx context.Context, st *sql.StopJob) (*Result, error) {
	var job *Job
	for _, j := range s.jobs {
		if j.id == st.ID {
			job = j
		}
	}
	if job == nil {
		return nil, sql.Errorf(st.P, catalog.ErrNotFound, "no job with id '%s' in this session (SHOW JOBS lists them)", st.ID)
	}
	dir := ""
	if st.Savepoint {
		cfg, err := s.checkpointConfig()
		if err != nil {
			return nil, sql.Errorf(st.P, ErrValidation, "%v", err)
		}
		if cfg.savepointDir == "" {
			return nil, sql.Errorf(st.P, ErrValidation, "STOP JOB ... WITH SAVEPOINT needs a target directory: SET 'state.savepoints.dir' = 'file:///path/to/savepoints' first")
		}
		dir = cfg.savepointDir
	}
	s.mu.Unlock()
	path, err := job.Stop(ctx, dir, st.Drain)
	s.mu.Lock()
	if err != nil {
		return nil, sql.Errorf(st.P, ErrValidation, "%s", strings.TrimPrefix(err.Error(), ErrValidation.Error()+": "))
	}
	if !st.Savepoint {
		return ok("[INFO] The specified job is stopped."), nil
	}
	return stringTable([]string{"savepoint path"}, [][]string{{path}}), nil
}
