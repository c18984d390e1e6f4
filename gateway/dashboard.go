package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/gateway/web"
)

// The web dashboard: static pages under /ui/ (gateway/web, embedded in the binary) and read-only JSON under
// /api/ built from the engine's metrics API (engine.Job.Metrics and friends). It lists the jobs of every
// session of the gateway, and of the engine sessions added with AddSession (the embedded shell's with
// sql-client --web). Live query results go through the gateway's own REST API (a session of the page's).

// Browsers cannot set an Authorization header on a page load: GET /ui/?token=T sets a login cookie instead
// (HttpOnly, SameSite=Strict) and redirects to /ui/. The cookie holds an HMAC of the token under a key that
// the gateway draws at random when it starts, not the token: cookies are not bound to a port, so other
// servers on the same host see it, and it is worth nothing once the gateway restarts. Its name carries the
// port, so that gateways on different ports of one host keep their own.
const cookiePrefix = "sluice_dashboard_"

type webKey struct {
	once sync.Once
	key  [32]byte
}

// loginCookie is the value of the login cookie.
func (s *Server) loginCookie() string {
	s.webKey.once.Do(func() { rand.Read(s.webKey.key[:]) })
	mac := hmac.New(sha256.New, s.webKey.key[:])
	mac.Write([]byte(s.cfg.Token))
	return hex.EncodeToString(mac.Sum(nil))
}

// cookieName is the login cookie's name for the gateway that r reached.
func cookieName(r *http.Request) string {
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil || port == "" || strings.Trim(port, "0123456789") != "" {
		port = "80"
	}
	return cookiePrefix + port
}

// AddSession makes the jobs of an engine session that the gateway does not host (the embedded shell's)
// visible in the dashboard. Call it before Serve.
func (s *Server) AddSession(es *engine.Session) {
	s.mu.Lock()
	s.external = append(s.external, es)
	s.mu.Unlock()
}

// mountDashboard adds the dashboard's routes to mux.
func (s *Server) mountDashboard(mux *http.ServeMux) {
	static, err := fs.Sub(web.Files, ".")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(static))
	mux.Handle("GET /ui/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	mux.HandleFunc("GET /api/jobs", s.dashJobs)
	mux.HandleFunc("GET /api/jobs/{job}", s.dashJob)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Not found: %s %s (the dashboard's API has GET /api/jobs and GET /api/jobs/<id>).", r.Method, r.URL.Path))
	})
}

// dashboardLogin handles GET /ui/?token=T on a gateway with a token: a right token sets the cookie and
// redirects to the same page without it. It reports whether it answered the request.
func (s *Server) dashboardLogin(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet || (r.URL.Path != "/ui/" && r.URL.Path != "/ui") || !r.URL.Query().Has("token") {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(s.cfg.Token)) != 1 {
		writeError(w, http.StatusUnauthorized, "Unauthorized: wrong token.")
		return true
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: s.loginCookie(), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	return true
}

// cookieAuthorized reports whether r carries the login cookie.
func (s *Server) cookieAuthorized(r *http.Request) bool {
	c, err := r.Cookie(cookieName(r))
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.loginCookie())) == 1
}

// allJobs returns the jobs of the gateway's sessions and of the added engine sessions, newest first.
func (s *Server) allJobs() []*engine.Job {
	s.mu.Lock()
	sessions := make([]*engine.Session, 0, len(s.sessions)+len(s.external))
	for _, se := range s.sessions {
		if se.es != nil {
			sessions = append(sessions, se.es)
		}
	}
	sessions = append(sessions, s.external...)
	s.mu.Unlock()
	var jobs []*engine.Job
	for _, es := range sessions {
		jobs = append(jobs, es.Jobs()...)
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].StartTime().After(jobs[b].StartTime()) })
	return jobs
}

// dashJobBody is a job in the dashboard's API. Times are RFC 3339, watermarks milliseconds since the
// epoch (null when none), lags null when no source reports one.
type dashJobBody struct {
	ID                  string        `json:"id"`
	Name                string        `json:"name"`
	Status              string        `json:"status"`
	StartTime           time.Time     `json:"startTime"`
	RowsIn              int64         `json:"rowsIn"`
	RowsOut             int64         `json:"rowsOut"`
	RecordsInPerSecond  float64       `json:"recordsInPerSecond"`
	RecordsOutPerSecond float64       `json:"recordsOutPerSecond"`
	Lag                 *int64        `json:"lag"`
	Watermark           *int64        `json:"watermark"`
	Restarts            int64         `json:"restarts"`
	FailedCheckpoints   int64         `json:"failedCheckpoints"`
	LastCheckpoint      *dashCkptBody `json:"lastCheckpoint"`
	Failure             *dashFailure  `json:"failure,omitempty"`
	// ScaleOut are a scale-out member's counters per keyed stage (engine.JobMetrics.ScaleOut).
	ScaleOut []dashStageBody `json:"scaleOutStages,omitempty"`
}

// dashStageBody is one keyed stage of a scale-out member.
type dashStageBody struct {
	Stage              int   `json:"stage"`
	RestoredPartitions int   `json:"restoredPartitions"`
	RestoredRecords    int64 `json:"restoredRecords"`
	KeptPartitions     int   `json:"keptPartitions"`
	AbortDrops         int   `json:"abortDrops"`
}

type dashCkptBody struct {
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	DurationMs float64   `json:"durationMs"`
	Bytes      int64     `json:"bytes"`
	Path       string    `json:"path,omitempty"`
}

// dashFailure is why a job failed, as DESCRIBE JOB shows it.
type dashFailure struct {
	RootCause string `json:"rootCause"`
	Error     string `json:"error"`
	Origin    string `json:"origin,omitempty"` // "file:line:col" or "line L, column C" of the statement
}

type dashJobDetail struct {
	dashJobBody
	Origin               string         `json:"origin,omitempty"`
	Statement            string         `json:"statement,omitempty"`
	CompletedCheckpoints int            `json:"completedCheckpoints"`
	Checkpoints          []dashCkptBody `json:"checkpoints"`
	Operators            []dashOpBody   `json:"operators"`
}

type dashOpBody struct {
	ID                  int     `json:"id"`
	Name                string  `json:"name"`
	Description         string  `json:"description"`
	ChangelogMode       string  `json:"changelogMode"`
	RecordsIn           int64   `json:"recordsIn"`
	RecordsOut          int64   `json:"recordsOut"`
	RecordsInPerSecond  float64 `json:"recordsInPerSecond"`
	RecordsOutPerSecond float64 `json:"recordsOutPerSecond"`
	InputWatermark      *int64  `json:"inputWatermark"`
	OutputWatermark     *int64  `json:"outputWatermark"`
	Lag                 *int64  `json:"lag"`
	LagMax              *int64  `json:"lagMax"`
	Inputs              []int   `json:"inputs"`
}

func watermarkPtr(wm int64) *int64 {
	if wm == engine.NoWatermark || wm == math.MaxInt64 {
		return nil
	}
	return &wm
}

func lagPtr(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

func ckptBody(c engine.CheckpointInfo) dashCkptBody {
	return dashCkptBody{ID: c.ID, Time: c.Time.UTC(), DurationMs: float64(c.Duration.Microseconds()) / 1000, Bytes: c.Bytes, Path: c.Path}
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// dashJob builds a job's summary from its metrics m.
func dashJob(j *engine.Job, m engine.JobMetrics) dashJobBody {
	b := dashJobBody{ID: j.ID(), Name: j.Name(), Status: string(j.Status()), StartTime: j.StartTime().UTC(),
		RowsIn: m.RowsIn, RowsOut: m.RowsOut, RecordsInPerSecond: finite(m.RecordsInPerSecond), RecordsOutPerSecond: finite(m.RecordsOutPerSecond),
		Lag: lagPtr(m.Lag), Watermark: watermarkPtr(m.Watermark), Restarts: m.Restarts, FailedCheckpoints: m.FailedCheckpoints}
	for _, st := range m.ScaleOut {
		b.ScaleOut = append(b.ScaleOut, dashStageBody{Stage: st.Stage, RestoredPartitions: st.RestoredPartitions,
			RestoredRecords: st.RestoredRecords, KeptPartitions: st.Kept, AbortDrops: st.AbortDrops})
	}
	if m.LastCheckpoint.ID > 0 {
		c := ckptBody(m.LastCheckpoint)
		b.LastCheckpoint = &c
	}
	if j.Status() == engine.JobFailed {
		if err := j.Err(); err != nil {
			b.Failure = &dashFailure{RootCause: engine.RootCause(err).Error(), Error: err.Error(), Origin: j.Origin()}
		}
	}
	return b
}

func (s *Server) dashJobs(w http.ResponseWriter, r *http.Request) {
	out := []dashJobBody{}
	for _, j := range s.allJobs() {
		out = append(out, dashJob(j, j.Metrics()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out, "now": time.Now().UTC()})
}

func (s *Server) dashJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("job")
	var job *engine.Job
	for _, j := range s.allJobs() {
		if j.ID() == id {
			job = j
			break
		}
	}
	if job == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Job '%s' does not exist (GET /api/jobs lists the jobs).", id))
		return
	}
	m := job.Metrics()
	d := dashJobDetail{dashJobBody: dashJob(job, m), Origin: job.Origin(), Statement: job.Statement(),
		CompletedCheckpoints: job.CheckpointStats().Count, Checkpoints: []dashCkptBody{}, Operators: []dashOpBody{}}
	for _, c := range job.CheckpointHistory() {
		d.Checkpoints = append(d.Checkpoints, ckptBody(c))
	}
	for _, o := range m.Operators {
		ins := o.Inputs
		if ins == nil {
			ins = []int{}
		}
		d.Operators = append(d.Operators, dashOpBody{ID: o.ID, Name: o.Name, Description: o.Description, ChangelogMode: o.ChangelogMode,
			RecordsIn: o.RecordsIn, RecordsOut: o.RecordsOut,
			RecordsInPerSecond: finite(o.RecordsInPerSecond), RecordsOutPerSecond: finite(o.RecordsOutPerSecond),
			InputWatermark: watermarkPtr(o.InputWatermark), OutputWatermark: watermarkPtr(o.OutputWatermark),
			Lag: lagPtr(o.Lag), LagMax: lagPtr(o.LagMax), Inputs: ins})
	}
	writeJSON(w, http.StatusOK, d)
}
