package schemaregistry

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	hamba "github.com/hamba/avro/v2"
)

// Confluent error codes.
const (
	codeSubjectNotFound      = 40401
	codeVersionNotFound      = 40402
	codeSchemaNotFound       = 40403
	codeSubjectCompatNotSet  = 40408
	codeIncompatible         = 409
	codeInvalidSchema        = 42201
	codeInvalidVersion       = 42202
	codeInvalidCompatibility = 42203
	codeUnauthorized         = 401
)

// Compatibility levels.
var levels = []string{"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}

// Option configures a Server.
type Option func(*Server)

// WithDir persists the registry in dir (created if missing): it loads dir's state at start and rewrites it
// after every change, so schema ids survive a restart.
func WithDir(dir string) Option { return func(s *Server) { s.dir = dir } }

// WithBasicAuth makes every request need HTTP basic authentication with user and password.
func WithBasicAuth(user, password string) Option {
	return func(s *Server) { s.user, s.pass = user, password }
}

// WithCompatibility sets the global compatibility level (default BACKWARD, as Confluent's).
func WithCompatibility(level string) Option { return func(s *Server) { s.state.Compat = level } }

// Server is a running registry.
type Server struct {
	dir        string
	user, pass string
	ln         net.Listener
	http       *http.Server
	done       chan struct{}
	closeOnce  sync.Once
	closeErr   error

	mu    sync.Mutex
	state state
}

// state is everything the registry knows; it is also the persisted form.
type state struct {
	Compat   string              `json:"compatibility"`
	NextID   int                 `json:"next_id"`
	Schemas  map[int]string      `json:"schemas"` // id → schema text as first registered
	Subjects map[string]*subject `json:"subjects"`
	// canonical form → id, rebuilt on load
	byCanon map[string]int
}

type subject struct {
	Compat   string `json:"compatibility,omitempty"`
	Versions []int  `json:"versions"` // schema id of version i+1; 0 for a deleted version
}

// Start listens on addr ("127.0.0.1:8081", or "127.0.0.1:0" for a free port) and serves the registry until
// ctx is done or Close is called.
func Start(ctx context.Context, addr string, opts ...Option) (*Server, error) {
	s := &Server{done: make(chan struct{}), state: state{Compat: "BACKWARD", NextID: 1,
		Schemas: map[int]string{}, Subjects: map[string]*subject{}, byCanon: map[string]int{}}}
	for _, o := range opts {
		o(s)
	}
	if !validLevel(s.state.Compat) {
		return nil, fmt.Errorf("schema registry: unknown compatibility level %q (want one of %s)", s.state.Compat, strings.Join(levels, ", "))
	}
	if s.dir != "" {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("schema registry: listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.http.Serve(ln)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// URL is the registry's base URL, "http://127.0.0.1:8081".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.http.Shutdown(ctx)
		<-s.done
	})
	return s.closeErr
}

func (s *Server) load() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("schema registry: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "registry.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("schema registry: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("schema registry: %s: %w", filepath.Join(s.dir, "registry.json"), err)
	}
	if st.Schemas == nil {
		st.Schemas = map[int]string{}
	}
	if st.Subjects == nil {
		st.Subjects = map[string]*subject{}
	}
	st.byCanon = map[string]int{}
	for id, text := range st.Schemas {
		sch, err := parse(text)
		if err != nil {
			return fmt.Errorf("schema registry: stored schema %d: %w", id, err)
		}
		st.byCanon[sch.String()] = id
	}
	s.state = st
	return nil
}

// save writes the state; the caller holds mu.
func (s *Server) save() error {
	if s.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(&s.state, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, "registry.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.dir, "registry.json"))
}

func parse(text string) (hamba.Schema, error) {
	return hamba.ParseWithCache(text, "", &hamba.SchemaCache{})
}

func validLevel(l string) bool {
	for _, x := range levels {
		if x == l {
			return true
		}
	}
	return false
}

type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errf(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, code: 50001, msg: err.Error()}
	}
	writeJSON(w, ae.status, map[string]any{"error_code": ae.code, "message": ae.msg})
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	h := func(f func(r *http.Request) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			v, err := f(r)
			if err != nil {
				writeErr(w, err)
				return
			}
			if raw, ok := v.(rawText); ok {
				w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
				_, _ = w.Write([]byte(raw))
				return
			}
			writeJSON(w, http.StatusOK, v)
		}
	}
	mux.HandleFunc("GET /{$}", h(func(*http.Request) (any, error) { return map[string]any{}, nil }))
	mux.HandleFunc("GET /subjects", h(s.listSubjects))
	mux.HandleFunc("GET /subjects/{subject}/versions", h(s.listVersions))
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", h(s.getVersion))
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", h(s.getVersionSchema))
	mux.HandleFunc("POST /subjects/{subject}/versions", h(s.register))
	mux.HandleFunc("POST /subjects/{subject}", h(s.lookup))
	mux.HandleFunc("DELETE /subjects/{subject}", h(s.deleteSubject))
	mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", h(s.deleteVersion))
	mux.HandleFunc("GET /schemas/ids/{id}", h(s.getByID))
	mux.HandleFunc("GET /schemas/ids/{id}/schema", h(s.getByIDRaw))
	mux.HandleFunc("GET /schemas/ids/{id}/subjects", h(s.subjectsByID))
	mux.HandleFunc("GET /schemas/ids/{id}/versions", h(s.versionsByID))
	mux.HandleFunc("GET /schemas/types", h(func(*http.Request) (any, error) { return []string{"AVRO"}, nil }))
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", h(s.checkCompat))
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", h(s.checkCompat))
	mux.HandleFunc("GET /config", h(s.getConfig))
	mux.HandleFunc("PUT /config", h(s.putConfig))
	mux.HandleFunc("GET /config/{subject}", h(s.getConfig))
	mux.HandleFunc("PUT /config/{subject}", h(s.putConfig))
	mux.HandleFunc("DELETE /config/{subject}", h(s.deleteConfig))
	mux.HandleFunc("GET /mode", h(func(*http.Request) (any, error) { return map[string]string{"mode": "READWRITE"}, nil }))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, errf(http.StatusNotFound, 404, "HTTP 404 Not Found"))
	})
	if s.user == "" && s.pass == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(s.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="schema-registry"`)
			writeErr(w, errf(http.StatusUnauthorized, codeUnauthorized, "Unauthorized"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type rawText string

type schemaRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType,omitempty"`
	References []json.RawMessage `json:"references,omitempty"`
}

type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

func readSchema(r *http.Request) (schemaRequest, hamba.Schema, error) {
	var req schemaRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	if err := dec.Decode(&req); err != nil {
		return req, nil, errf(http.StatusUnprocessableEntity, 422, "Unrecognized request body: %v", err)
	}
	if req.SchemaType != "" && req.SchemaType != "AVRO" {
		return req, nil, errf(http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: schema type %s is not supported by this registry (AVRO only)", req.SchemaType)
	}
	if len(req.References) > 0 {
		return req, nil, errf(http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema: schema references are not supported by this registry")
	}
	sch, err := parse(req.Schema)
	if err != nil {
		return req, nil, errf(http.StatusUnprocessableEntity, codeInvalidSchema, "Invalid schema %s: %v", req.Schema, err)
	}
	return req, sch, nil
}

func (s *Server) subject(name string) (*subject, error) {
	sub, ok := s.state.Subjects[name]
	if !ok || len(sub.live()) == 0 {
		return nil, errf(http.StatusNotFound, codeSubjectNotFound, "Subject '%s' not found.", name)
	}
	return sub, nil
}

// live lists the versions not deleted.
func (sub *subject) live() []int {
	var out []int
	for i, id := range sub.Versions {
		if id != 0 {
			out = append(out, i+1)
		}
	}
	return out
}

// version resolves "latest", "-1" or a number to a live version.
func (s *Server) version(name, v string) (*subject, int, error) {
	sub, err := s.subject(name)
	if err != nil {
		return nil, 0, err
	}
	live := sub.live()
	if v == "latest" || v == "-1" {
		return sub, live[len(live)-1], nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return nil, 0, errf(http.StatusUnprocessableEntity, codeInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
	}
	if n > len(sub.Versions) || sub.Versions[n-1] == 0 {
		return nil, 0, errf(http.StatusNotFound, codeVersionNotFound, "Version %d not found.", n)
	}
	return sub, n, nil
}

func (s *Server) listSubjects(*http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for n, sub := range s.state.Subjects {
		if len(sub.live()) > 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *Server) listVersions(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, err := s.subject(r.PathValue("subject"))
	if err != nil {
		return nil, err
	}
	return sub.live(), nil
}

func (s *Server) getVersion(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("subject")
	sub, v, err := s.version(name, r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	id := sub.Versions[v-1]
	return subjectVersion{Subject: name, Version: v, ID: id, Schema: s.state.Schemas[id]}, nil
}

func (s *Server) getVersionSchema(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, v, err := s.version(r.PathValue("subject"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	return rawText(s.state.Schemas[sub.Versions[v-1]]), nil
}

// compatLevel is the level that applies to a subject; the caller holds mu.
func (s *Server) compatLevel(name string) string {
	if sub, ok := s.state.Subjects[name]; ok && sub.Compat != "" {
		return sub.Compat
	}
	return s.state.Compat
}

// checkAgainst checks sch against the subject's versions per level; it returns the first incompatibility.
func (s *Server) checkAgainst(name string, sch hamba.Schema, level string, only []int) error {
	sub := s.state.Subjects[name]
	if sub == nil || level == "NONE" {
		return nil
	}
	versions := only
	if versions == nil {
		live := sub.live()
		if len(live) == 0 {
			return nil
		}
		if strings.HasSuffix(level, "_TRANSITIVE") {
			versions = live
		} else {
			versions = live[len(live)-1:]
		}
	}
	for _, v := range versions {
		old, err := parse(s.state.Schemas[sub.Versions[v-1]])
		if err != nil {
			return err
		}
		// A fresh checker per check: hamba's checker caches by fingerprint.
		if strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL") {
			if err := hamba.NewSchemaCompatibility().Compatible(sch, old); err != nil {
				return fmt.Errorf("version %d: the new schema cannot read data written with it (%s): %v", v, level, err)
			}
		}
		if strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL") {
			if err := hamba.NewSchemaCompatibility().Compatible(old, sch); err != nil {
				return fmt.Errorf("version %d: it cannot read data written with the new schema (%s): %v", v, level, err)
			}
		}
	}
	return nil
}

func (s *Server) register(r *http.Request) (any, error) {
	req, sch, err := readSchema(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("subject")
	s.mu.Lock()
	defer s.mu.Unlock()
	canon := sch.String()
	sub := s.state.Subjects[name]
	if sub != nil {
		for _, v := range sub.live() {
			if id := sub.Versions[v-1]; s.canonOf(id) == canon {
				return map[string]int{"id": id}, nil
			}
		}
	}
	level := s.compatLevel(name)
	if err := s.checkAgainst(name, sch, level, nil); err != nil {
		return nil, errf(http.StatusConflict, codeIncompatible, "Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [%v]", name, err)
	}
	id, ok := s.state.byCanon[canon]
	if !ok {
		id = s.state.NextID
		s.state.NextID++
		s.state.Schemas[id] = req.Schema
		s.state.byCanon[canon] = id
	}
	if sub == nil {
		sub = &subject{}
		s.state.Subjects[name] = sub
	}
	sub.Versions = append(sub.Versions, id)
	if err := s.save(); err != nil {
		return nil, err
	}
	return map[string]int{"id": id}, nil
}

func (s *Server) canonOf(id int) string {
	sch, err := parse(s.state.Schemas[id])
	if err != nil {
		return ""
	}
	return sch.String()
}

func (s *Server) lookup(r *http.Request) (any, error) {
	_, sch, err := readSchema(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("subject")
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, err := s.subject(name)
	if err != nil {
		return nil, err
	}
	canon := sch.String()
	for _, v := range sub.live() {
		if id := sub.Versions[v-1]; s.canonOf(id) == canon {
			return subjectVersion{Subject: name, Version: v, ID: id, Schema: s.state.Schemas[id]}, nil
		}
	}
	return nil, errf(http.StatusNotFound, codeSchemaNotFound, "Schema not found")
}

func (s *Server) deleteSubject(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("subject")
	sub, err := s.subject(name)
	if err != nil {
		return nil, err
	}
	live := sub.live()
	delete(s.state.Subjects, name)
	return live, s.save()
}

func (s *Server) deleteVersion(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, v, err := s.version(r.PathValue("subject"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	sub.Versions[v-1] = 0
	return v, s.save()
}

func (s *Server) schemaID(r *http.Request) (int, error) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if _, ok := s.state.Schemas[id]; err != nil || !ok {
		return 0, errf(http.StatusNotFound, codeSchemaNotFound, "Schema %s not found", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getByID(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.schemaID(r)
	if err != nil {
		return nil, err
	}
	return map[string]string{"schema": s.state.Schemas[id]}, nil
}

func (s *Server) getByIDRaw(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.schemaID(r)
	if err != nil {
		return nil, err
	}
	return rawText(s.state.Schemas[id]), nil
}

func (s *Server) usages(id int) []subjectVersion {
	var out []subjectVersion
	names := make([]string, 0, len(s.state.Subjects))
	for n := range s.state.Subjects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range s.state.Subjects[n].live() {
			if s.state.Subjects[n].Versions[v-1] == id {
				out = append(out, subjectVersion{Subject: n, Version: v})
			}
		}
	}
	return out
}

func (s *Server) subjectsByID(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.schemaID(r)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, u := range s.usages(id) {
		if len(out) == 0 || out[len(out)-1] != u.Subject {
			out = append(out, u.Subject)
		}
	}
	return out, nil
}

func (s *Server) versionsByID(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.schemaID(r)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, u := range s.usages(id) {
		out = append(out, map[string]any{"subject": u.Subject, "version": u.Version})
	}
	return out, nil
}

func (s *Server) checkCompat(r *http.Request) (any, error) {
	_, sch, err := readSchema(r)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("subject")
	s.mu.Lock()
	defer s.mu.Unlock()
	var only []int
	level := s.compatLevel(name)
	if v := r.PathValue("version"); v != "" {
		_, n, err := s.version(name, v)
		if err != nil {
			return nil, err
		}
		only = []int{n}
	} else if _, ok := s.state.Subjects[name]; ok {
		only = s.state.Subjects[name].live()
	}
	res := map[string]any{"is_compatible": true}
	if err := s.checkAgainst(name, sch, level, only); err != nil {
		res["is_compatible"] = false
		if r.URL.Query().Get("verbose") == "true" {
			res["messages"] = []string{err.Error()}
		}
	}
	return res, nil
}

func (s *Server) getConfig(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("subject")
	if name == "" {
		return map[string]string{"compatibilityLevel": s.state.Compat}, nil
	}
	if sub, ok := s.state.Subjects[name]; ok && sub.Compat != "" {
		return map[string]string{"compatibilityLevel": sub.Compat}, nil
	}
	if r.URL.Query().Get("defaultToGlobal") == "true" {
		return map[string]string{"compatibilityLevel": s.state.Compat}, nil
	}
	return nil, errf(http.StatusNotFound, codeSubjectCompatNotSet, "Subject '%s' does not have subject-level compatibility configured", name)
}

func (s *Server) putConfig(r *http.Request) (any, error) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16)).Decode(&body); err != nil {
		return nil, errf(http.StatusUnprocessableEntity, 422, "Unrecognized request body: %v", err)
	}
	level := strings.ToUpper(body.Compatibility)
	if !validLevel(level) {
		return nil, errf(http.StatusUnprocessableEntity, codeInvalidCompatibility, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name := r.PathValue("subject"); name != "" {
		sub := s.state.Subjects[name]
		if sub == nil {
			sub = &subject{}
			s.state.Subjects[name] = sub
		}
		sub.Compat = level
	} else {
		s.state.Compat = level
	}
	return map[string]string{"compatibility": level}, s.save()
}

func (s *Server) deleteConfig(r *http.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("subject")
	sub, ok := s.state.Subjects[name]
	if !ok || sub.Compat == "" {
		return nil, errf(http.StatusNotFound, codeSubjectCompatNotSet, "Subject '%s' does not have subject-level compatibility configured", name)
	}
	old := sub.Compat
	sub.Compat = ""
	return map[string]string{"compatibilityLevel": old}, s.save()
}
