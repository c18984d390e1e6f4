// Package gateway is Sluice's SQL gateway: a REST server in the shape of Flink's SQL Gateway REST API v1
// (sessions, statements, operations, paged results) that holds engine sessions, so that jobs outlive the
// client that submitted them. `sluice gateway --listen 127.0.0.1:8083` runs it; `sql-client gateway
// --endpoint 127.0.0.1:8083` is the shell against it. See docs/GATEWAY.md for what is covered.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/engine"
)

// Version is what /v1/info reports.
const Version = "1.17-sluice"

const (
	// DefaultPageRows is the page size of a result fetch without maxRows.
	DefaultPageRows = 1000
	// MaxPageRows is the largest page a client may ask for; larger requests are refused with 400.
	MaxPageRows = 10000
	// maxBodyBytes bounds a request body.
	maxBodyBytes = 1 << 20
	// maxBufferedRows bounds the rows a query buffers before it waits for the client to fetch them.
	maxBufferedRows = 100000
	// MaxSessions bounds the open sessions.
	MaxSessions = 256
)

// Config configures a gateway.
type Config struct {
	// Token, when set, is a shared secret every request must carry as "Authorization: Bearer <token>".
	// Without it the gateway has no authentication: bind it to loopback.
	Token string
	// Options are defaults of every session (sluice gateway -D key=value); a session's properties override them.
	Options map[string]string
	// Stdout and Stderr receive the output of print sinks (the gateway process's own streams).
	Stdout, Stderr io.Writer
	// IdleTimeout closes a session no request named for this long, unless it has a running job or query
	// ('sql-gateway.session.idle-timeout'; 0: never); CheckInterval is how often that is checked
	// ('sql-gateway.session.check-interval'). ParseOptions sets Flink's defaults (10 min, 1 min).
	IdleTimeout, CheckInterval time.Duration
}

// Server is a SQL gateway. Its zero value is not usable; call New.
type Server struct {
	cfg      Config
	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	external []*engine.Session // sessions the dashboard shows besides the gateway's own (AddSession)
	webKey   webKey            // signs the dashboard's login cookie (dashboard.go)
}

// New returns a gateway with no sessions.
func New(cfg Config) *Server {
	return &Server{cfg: cfg, sessions: map[string]*session{}}
}

// Close closes every session: their running jobs are cancelled (sinks flushed).
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	ss := s.sessions
	s.sessions = map[string]*session{}
	s.mu.Unlock()
	for _, se := range ss {
		se.close()
	}
}

// Serve serves the gateway's API on l until ctx is done, then closes the sessions.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.Handler()}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	ectx, stopExpiry := context.WithCancel(ctx)
	defer stopExpiry()
	go s.expireLoop(ectx)
	select {
	case <-ctx.Done():
		hs.Close()
		s.Close()
		return nil
	case err := <-errc:
		s.Close()
		return err
	}
}

// Handler returns the REST API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, v := range []string{"/v1", "/v2"} {
		mux.HandleFunc("GET "+v+"/info", s.info)
		mux.HandleFunc("GET "+v+"/api_versions", s.apiVersions)
		mux.HandleFunc("POST "+v+"/sessions", s.openSession)
		mux.HandleFunc("GET "+v+"/sessions/{session}", s.getSession)
		mux.HandleFunc("DELETE "+v+"/sessions/{session}", s.closeSession)
		mux.HandleFunc("POST "+v+"/sessions/{session}/heartbeat", s.heartbeat)
		mux.HandleFunc("POST "+v+"/sessions/{session}/statements", s.executeStatement)
		mux.HandleFunc("GET "+v+"/sessions/{session}/operations/{operation}/status", s.operationStatus)
		mux.HandleFunc("POST "+v+"/sessions/{session}/operations/{operation}/cancel", s.cancelOperation)
		mux.HandleFunc("DELETE "+v+"/sessions/{session}/operations/{operation}/close", s.closeOperation)
		mux.HandleFunc("GET "+v+"/sessions/{session}/operations/{operation}/result/{token}", s.fetchResult)
		mux.HandleFunc("GET "+v+"/sessions/{session}/jobs", s.listJobs)
		mux.HandleFunc("POST "+v+"/sessions/{session}/jobs/{job}/cancel", s.cancelJob)
	}
	s.mountDashboard(mux) // dashboard.go
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Not found: %s %s (see /v1/api_versions and docs/GATEWAY.md).", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				writeError(w, http.StatusInternalServerError, fmt.Sprintf("Internal server error: %v", p))
			}
		}()
		if why := s.crossSite(r); why != "" { // origin.go
			writeError(w, http.StatusForbidden, why)
			return
		}
		if s.cfg.Token != "" && !s.authorized(r) && !s.cookieAuthorized(r) {
			if s.dashboardLogin(w, r) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeError(w, http.StatusUnauthorized, "Unauthorized: this gateway requires 'Authorization: Bearer <token>' (sql-client gateway --token); browsers open /ui/?token=<token> once.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1
}

// errorBody is Flink's REST error shape.
type errorBody struct {
	Errors []string `json:"errors"`
	// Line and Column locate a SQL error in the statement (a Sluice extension; 0 when unknown).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Errors: []string{msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// readJSON decodes a request body into v; an empty body leaves v as it is.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body larger than %d bytes.", maxBodyBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, "Could not read the request body: "+err.Error())
		return false
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Bad request, could not parse the JSON body: "+err.Error())
		return false
	}
	return true
}

func newHandle() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"productName": "Sluice", "version": Version})
}

func (s *Server) apiVersions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"versions": {"V1", "V2"}})
}

// session looks up the path's session, writing a 404 when it is unknown.
func (s *Server) session(w http.ResponseWriter, r *http.Request) *session {
	h := r.PathValue("session")
	s.mu.Lock()
	se := s.sessions[h]
	s.mu.Unlock()
	if se == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Session '%s' does not exist (it was closed, it expired after 'sql-gateway.session.idle-timeout', or the gateway restarted).", h))
		return nil
	}
	se.touch(time.Now())
	return se
}

type openSessionRequest struct {
	SessionName string            `json:"sessionName"`
	Properties  map[string]string `json:"properties"`
}

func (s *Server) openSession(w http.ResponseWriter, r *http.Request) {
	var req openSessionRequest
	if !readJSON(w, r, &req) {
		return
	}
	opts := map[string]string{}
	for k, v := range s.cfg.Options {
		opts[k] = v
	}
	for k, v := range req.Properties {
		opts[k] = v
	}
	se := &session{handle: newHandle(), name: req.SessionName, props: opts, ops: map[string]*operation{}}
	se.touch(time.Now())
	es, err := engine.NewSession(engine.Config{Options: opts, Stdout: s.cfg.Stdout, Stderr: s.cfg.Stderr})
	if err != nil {
		writeError(w, http.StatusBadRequest, "Could not open the session: "+err.Error())
		return
	}
	se.es = es
	s.mu.Lock()
	if s.closed || len(s.sessions) >= MaxSessions {
		s.mu.Unlock()
		es.Close()
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("Too many sessions (at most %d): close some first.", MaxSessions))
		return
	}
	s.sessions[se.handle] = se
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"sessionHandle": se.handle})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	if se == nil {
		return
	}
	body := map[string]any{"properties": se.es.Options()}
	if a := se.es.MetricsAddr(); a != "" {
		body["metricsAddress"] = a // the session's Prometheus endpoint ('metrics.reporter.prom.port'; a Sluice extension)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	if s.session(w, r) != nil {
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	if se == nil {
		return
	}
	s.mu.Lock()
	delete(s.sessions, se.handle)
	s.mu.Unlock()
	se.close()
	writeJSON(w, http.StatusOK, map[string]string{"status": "CLOSED"})
}
