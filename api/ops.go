package api

import (
	"context"
	"net/http"
	"time"
)

// pinger is what /readyz asks of the store, when the store offers it.
type pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the store answers within a second.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	var err error
	if p, ok := s.cfg.Store.(pinger); ok {
		err = p.Ping(ctx)
	} else {
		_, err = s.cfg.Store.Head(ctx)
	}
	if err != nil {
		info(r.Context()).err = err
		writeProblem(w, r, Problem{Status: http.StatusServiceUnavailable, Code: "store_unavailable",
			Detail: "not ready: the event store does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
