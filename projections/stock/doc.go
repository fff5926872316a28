// Package stock is the stock projection: per SKU, the quantities received,
// reserved by orders, and shipped.
//
// # Figures
//
//   - received: the sum of StockReceived quantities.
//   - reserved: the quantities of the lines of orders that are placed or
//     paid. Adding or removing a line changes it; cancelling releases the
//     order's lines; shipping moves them to shipped.
//   - shipped: the quantities of the lines of shipped orders.
//   - on_hand = received − shipped, available = on_hand − reserved.
//     available is negative when more is reserved than is on hand
//     (oversold): the store takes orders regardless of stock.
//
// A SKU appears once a receipt or an order line has named it, and stays.
//
// # Tables
//
// The projection writes tables named with a prefix given by its runner, so
// the same code fills the live tables and the shadow tables of a rebuild:
// prefix+"items" holds the figures, prefix+"orders" the lines and status of
// every open order (OrderLineRemoved names only the SKU, OrderShipped and
// OrderCancelled no lines at all).
package stock
