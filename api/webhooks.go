package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/webhooks"
)

// Webhooks is what the webhook routes need of the notifier
// (*webhooks.Notifier).
type Webhooks interface {
	Create(ctx context.Context, ne webhooks.NewEndpoint) (webhooks.Endpoint, error)
	List(ctx context.Context) ([]webhooks.Endpoint, error)
	Get(ctx context.Context, id string) (webhooks.Endpoint, error)
	Delete(ctx context.Context, id string) error
	RotateSecret(ctx context.Context, id string) (webhooks.Endpoint, error)
	Pause(ctx context.Context, id string) (webhooks.Endpoint, error)
	Resume(ctx context.Context, id string) (webhooks.Endpoint, error)
	Deliveries(ctx context.Context, id string, f webhooks.DeliveryFilter) (webhooks.DeliveryPage, error)
	Retry(ctx context.Context, id, deliveryID string) error
	RetryDead(ctx context.Context, id string) (int, error)
}

// Limits of GET /webhooks/{id}/deliveries paging.
const (
	defaultDeliveriesLimit = 100
	maxDeliveriesLimit     = 1000
)

// errNoWebhooks answers the webhook routes of a server without a notifier
// (serve --webhooks=false).
var errNoWebhooks = errors.New("webhooks are not managed by this process (it runs with --webhooks=false): " +
	"manage them on the process that delivers them")

// retryAccepted is the answer to a retry: how many deliveries were put
// back in line.
type retryAccepted struct {
	Retried int    `json:"retried"`
	Detail  string `json:"detail"`
}

// webhooksOr answers 503 when there is no notifier, else runs fn with it.
func (s *Server) webhooksOr(w http.ResponseWriter, r *http.Request, fn func(wh Webhooks) (status int, v any, err error)) {
	if s.cfg.Webhooks == nil {
		s.fail(w, r, errNoWebhooks)
		return
	}
	status, v, err := fn(s.cfg.Webhooks)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// maxWebhookKeys bounds the Idempotency-Keys of webhook commands kept.
const maxWebhookKeys = 1024

// webhookKeys remembers the answers of webhook commands sent with an
// Idempotency-Key, so that a repeat replays the first answer and changes
// nothing (a second registration or rotation would). As for rebuilds, the
// keys live in this process only, the newest maxWebhookKeys; only
// successful answers are kept. Keyed commands run one at a time.
type webhookKeys struct {
	mu      sync.Mutex
	answers map[string]keyedAnswer
	order   []string
}

type keyedAnswer struct {
	fingerprint string
	status      int
	location    string
	body        []byte
}

// webhookCommand runs a webhook command (a POST or DELETE) under the
// request's Idempotency-Key, if any; raw is the request body, nil if the
// route reads none.
func (s *Server) webhookCommand(w http.ResponseWriter, r *http.Request, raw []byte, fn func(wh Webhooks) (status int, v any, err error)) {
	if s.cfg.Webhooks == nil {
		s.fail(w, r, errNoWebhooks)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	answer := func() (keyedAnswer, error) {
		status, v, err := fn(s.cfg.Webhooks)
		if err != nil {
			return keyedAnswer{}, err
		}
		a := keyedAnswer{status: status, location: w.Header().Get("Location")}
		if status != http.StatusNoContent {
			if a.body, err = json.Marshal(v); err != nil {
				return keyedAnswer{}, fmt.Errorf("encode answer: %w", err)
			}
		}
		return a, nil
	}
	var (
		a        keyedAnswer
		replayed bool
	)
	if key == "" {
		a, err = answer()
	} else {
		a, replayed, err = s.webhookKeys.run(key, fingerprint(r, raw), answer)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	if a.body == nil {
		w.WriteHeader(a.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(append(a.body, '\n')) //nolint:errcheck // the client may have gone
}

// run answers key's first answer if it has one (replayed), or
// ErrIdempotencyKeyReused if that was for another request; else it runs
// answer and keeps its outcome.
func (k *webhookKeys) run(key, fp string, answer func() (keyedAnswer, error)) (keyedAnswer, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if a, ok := k.answers[key]; ok {
		if a.fingerprint != fp {
			return keyedAnswer{}, false, fmt.Errorf("webhook command: %w", orders.ErrIdempotencyKeyReused)
		}
		return a, true, nil
	}
	a, err := answer()
	if err != nil {
		return a, false, err
	}
	a.fingerprint = fp
	if k.answers == nil {
		k.answers = map[string]keyedAnswer{}
	}
	if len(k.order) == maxWebhookKeys {
		delete(k.answers, k.order[0])
		k.order = k.order[1:]
	}
	k.answers[key] = a
	k.order = append(k.order, key)
	return a, false, nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Webhooks == nil {
		s.fail(w, r, errNoWebhooks)
		return
	}
	b, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ne webhooks.NewEndpoint
	if err := decodeJSON(b.raw, &ne); err != nil {
		s.fail(w, r, err)
		return
	}
	// The decoded values, re-encoded: a retry that re-serialises its
	// request is the same request.
	canonical, err := json.Marshal(ne)
	if err != nil {
		s.fail(w, r, fmt.Errorf("fingerprint: %w", err))
		return
	}
	s.webhookCommand(w, r, canonical, func(wh Webhooks) (int, any, error) {
		ep, err := wh.Create(r.Context(), ne)
		if err != nil {
			return 0, nil, err
		}
		w.Header().Set("Location", "/webhooks/"+ep.ID)
		return http.StatusCreated, ep, nil
	})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	s.webhooksOr(w, r, func(wh Webhooks) (int, any, error) {
		list, err := wh.List(r.Context())
		return http.StatusOK, map[string]any{"webhooks": list}, err
	})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	s.webhooksOr(w, r, func(wh Webhooks) (int, any, error) {
		ep, err := wh.Get(r.Context(), mux.Vars(r)["id"])
		return http.StatusOK, ep, err
	})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.webhookCommand(w, r, nil, func(wh Webhooks) (int, any, error) {
		return http.StatusNoContent, nil, wh.Delete(r.Context(), mux.Vars(r)["id"])
	})
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	s.webhookCommand(w, r, nil, func(wh Webhooks) (int, any, error) {
		ep, err := wh.RotateSecret(r.Context(), mux.Vars(r)["id"])
		return http.StatusOK, ep, err
	})
}

func (s *Server) pauseWebhook(w http.ResponseWriter, r *http.Request) {
	s.webhookCommand(w, r, nil, func(wh Webhooks) (int, any, error) {
		ep, err := wh.Pause(r.Context(), mux.Vars(r)["id"])
		return http.StatusOK, ep, err
	})
}

func (s *Server) resumeWebhook(w http.ResponseWriter, r *http.Request) {
	s.webhookCommand(w, r, nil, func(wh Webhooks) (int, any, error) {
		ep, err := wh.Resume(r.Context(), mux.Vars(r)["id"])
		return http.StatusOK, ep, err
	})
}

// deliveryFilter reads the query of GET /webhooks/{id}/deliveries.
func deliveryFilter(r *http.Request) (f webhooks.DeliveryFilter, err error) {
	state, err := queryString(r, "state")
	if err != nil {
		return f, err
	}
	if f.State = webhooks.DeliveryState(state); state != "" && !slices.Contains(webhooks.DeliveryStates, f.State) {
		names := make([]string, len(webhooks.DeliveryStates))
		for i, st := range webhooks.DeliveryStates {
			names[i] = string(st)
		}
		return f, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: "state",
			detail: fmt.Sprintf("query parameter state must be one of %s, not %q", strings.Join(names, ", "), state) +
				suggestion(state, names)}
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", defaultDeliveriesLimit, 1, maxDeliveriesLimit)
	f.After, f.Limit = uint64(after), int(limit)
	return f, err
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	s.webhooksOr(w, r, func(wh Webhooks) (int, any, error) {
		f, err := deliveryFilter(r)
		if err != nil {
			return 0, nil, err
		}
		page, err := wh.Deliveries(r.Context(), mux.Vars(r)["id"], f)
		return http.StatusOK, page, err
	})
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) {
	s.webhookCommand(w, r, nil, func(wh Webhooks) (int, any, error) {
		v := mux.Vars(r)
		if err := wh.Retry(r.Context(), v["id"], v["delivery_id"]); err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, retryAccepted{Retried: 1,
			Detail: "the delivery is sent again when its turn comes; follow it at GET /webhooks/" + v["id"] + "/deliveries"}, nil
	})
}

func (s *Server) retryDead(w http.ResponseWriter, r *http.Request) {
	s.webhookCommand(w, r, nil, func(wh Webhooks) (int, any, error) {
		id := mux.Vars(r)["id"]
		k, err := wh.RetryDead(r.Context(), id)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, retryAccepted{Retried: k,
			Detail: "the dead deliveries are sent again; follow them at GET /webhooks/" + id + "/deliveries"}, nil
	})
}
