// Package orderlist is the order list projection: one summary row per
// order ever placed, for GET /orders, filtered by customer and status and
// paged with a cursor.
//
// # Why a projection of its own
//
// The stock and analytics projections keep only the orders still open
// (placed or paid), and of those only the status, currency and lines
// (readmodel.Orders): a shipped or cancelled order leaves their tables,
// and neither the customer nor any time is kept. Listing every order by
// customer needs all orders with more fields, so it gets its own name,
// version and tables, rebuilt like the others and shown in GET
// /projections, and the stock and analytics read models keep their small
// tables of open orders.
//
// # Rows
//
// A row holds id, customer_id, status, currency, total (the sum of
// quantity × unit_price of the current lines), line_count, version (of
// the order's last event, as in the order's ETag), position (of that
// event), placed_at, paid_at, shipped_at, cancelled_at and cancel_reason,
// as in the order resource of the API. Lines change only while an order
// is placed, so the projection follows them through the open orders'
// state (readmodel.Orders) like the other projections, and writes the
// summary row of each order a batch touches.
//
// # Order and cursor
//
// Rows are listed by the position of their OrderPlaced event, ascending:
// positions grow in commit order, so an order placed after a listing began
// comes after every order already listed, and a cursor (the placed
// position of the last order of a page) never skips nor repeats an order,
// whatever is placed meanwhile, and survives rebuilds (positions are the
// store's). A filter by customer_id or status reads an index ordered the
// same way.
//
// # Tables
//
// prefix+"list" holds the summaries, keyed by the placed position, with a
// unique index on id and indexes on (customer_id, placed) and (status,
// placed); prefix+"orders" is the state of open orders (readmodel).
package orderlist
