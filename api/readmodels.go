package api

import "net/http"

// ReadModels serves the projection routes. (Being wired.)
type ReadModels interface{}

func (s *Server) readModelsMissing(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, Problem{Status: http.StatusServiceUnavailable, Code: "read_models_unavailable", Detail: "read models are not available"})
}

func (s *Server) listStock(w http.ResponseWriter, r *http.Request)         { s.readModelsMissing(w, r) }
func (s *Server) getStock(w http.ResponseWriter, r *http.Request)          { s.readModelsMissing(w, r) }
func (s *Server) getAnalytics(w http.ResponseWriter, r *http.Request)      { s.readModelsMissing(w, r) }
func (s *Server) getProjections(w http.ResponseWriter, r *http.Request)    { s.readModelsMissing(w, r) }
func (s *Server) rebuildProjection(w http.ResponseWriter, r *http.Request) { s.readModelsMissing(w, r) }

type waitError struct {
	position uint64
	msg      string
}

func (e *waitError) Error() string { return e.msg }

var errNotFound = errorString("not found")

type errorString string

func (e errorString) Error() string { return string(e) }
