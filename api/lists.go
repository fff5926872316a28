package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/orderlist"
)

// Limits of GET /orders paging, as GET /events's.
const (
	defaultOrdersLimit = 100
	maxOrdersLimit     = 1000
)

// Limits of GET /stock paging. The default answers every SKU of a
// catalogue of up to a thousand in one page, as GET /stock did before it
// was paged.
const (
	defaultStockLimit = 1000
	maxStockLimit     = 10_000
)

// orderStatuses are the values of GET /orders?status=.
var orderStatuses = []domain.Status{domain.StatusPlaced, domain.StatusPaid, domain.StatusShipped, domain.StatusCancelled, domain.StatusRejected}

// queryString reads an optional query parameter that, if given, must not
// be empty.
func queryString(r *http.Request, name string) (string, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return "", nil
	}
	v := q.Get(name)
	if v == "" {
		return "", &requestError{status: http.StatusBadRequest, code: "invalid_query", field: name,
			detail: fmt.Sprintf("query parameter %s is empty; give a value or leave it out", name)}
	}
	return v, nil
}

// queryDate reads an optional query parameter holding a date, YYYY-MM-DD.
func queryDate(r *http.Request, name string) (string, error) {
	v, err := queryString(r, name)
	if err != nil || v == "" {
		return v, err
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "", &requestError{status: http.StatusBadRequest, code: "invalid_query", field: name,
			detail: fmt.Sprintf("query parameter %s must be a date, YYYY-MM-DD, not %q", name, v)}
	}
	return v, nil
}

// orderFilter reads the filters and paging parameters of GET /orders.
func orderFilter(r *http.Request) (f orderlist.Filter, err error) {
	if f.CustomerID, err = queryString(r, "customer_id"); err != nil {
		return f, err
	}
	status, err := queryString(r, "status")
	if err != nil {
		return f, err
	}
	if f.Status = domain.Status(status); status != "" && !slices.Contains(orderStatuses, f.Status) {
		names := make([]string, len(orderStatuses))
		for i, st := range orderStatuses {
			names[i] = string(st)
		}
		return f, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: "status",
			detail: fmt.Sprintf("query parameter status must be one of %s, not %q", strings.Join(names, ", "), status) +
				suggestion(status, names)}
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return f, err
	}
	limit, err := queryInt(r, "limit", defaultOrdersLimit, 1, maxOrdersLimit)
	f.After, f.Limit = uint64(after), int(limit)
	return f, err
}

// listOrders answers GET /orders from the order list read model.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	f, err := orderFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.readModel(w, r, orderlist.Name, func(ctx context.Context) (any, uint64, error) {
		page, pos, err := s.cfg.ReadModels.Orders(ctx, f)
		return map[string]any{"orders": page.Orders, "next": page.Next}, pos, err
	})
}

// stockPage reads the paging parameters of GET /stock.
func stockPage(r *http.Request) (after string, limit int, err error) {
	if after, err = queryString(r, "after"); err != nil {
		return "", 0, err
	}
	n, err := queryInt(r, "limit", defaultStockLimit, 1, maxStockLimit)
	return after, int(n), err
}

// analyticsWindow reads the dates of the daily figures of GET /analytics.
func analyticsWindow(r *http.Request) (analytics.Window, error) {
	from, err := queryDate(r, "from")
	if err != nil {
		return analytics.Window{}, err
	}
	to, err := queryDate(r, "to")
	if err != nil || from == "" || to == "" {
		return analytics.Window{From: from, To: to}, err
	}
	f, _ := time.Parse(time.DateOnly, from)
	t, _ := time.Parse(time.DateOnly, to)
	switch days := int(t.Sub(f).Hours()/24) + 1; {
	case days < 1:
		return analytics.Window{}, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: "to",
			detail: fmt.Sprintf("to=%s is before from=%s", to, from)}
	case days > analytics.MaxDays:
		return analytics.Window{}, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: "to",
			detail: fmt.Sprintf("from=%s to=%s spans %d days; the daily figures cover at most %d per request: ask for the rest with another from",
				from, to, days, analytics.MaxDays)}
	}
	return analytics.Window{From: from, To: to}, nil
}
