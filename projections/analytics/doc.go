// Package analytics is the analytics projection: orders by status, revenue
// per currency, top SKUs and daily figures.
//
// # What counts
//
//   - orders_by_status counts orders by their current status; orders_total
//     is their sum (every order ever placed); cancellation_rate is
//     cancelled / orders_total, 0 when there are no orders. The rate is the
//     only float: money is in integer minor units throughout.
//   - revenue has an entry for the currency of every placed order. gross is
//     the sum of OrderPaid amounts; refunds the sum of OrderCancelled
//     refunded amounts (non-zero only for paid orders); net = gross −
//     refunds; paid_orders the number of OrderPaid events;
//     average_order_value = gross / paid_orders, truncated (0 when none).
//     Revenue is recognised at payment: shipping does not change it, a
//     cancellation after payment shows as a refund.
//   - top_skus ranks the lines of paid orders as they were at payment
//     (whatever happened to the order afterwards, as with gross): quantity
//     is the units sold, revenue = quantity × unit_price. Like gross, it
//     counts orders refunded since: it is not net of refunds. Money of
//     different currencies is never added up, so an entry is a (sku,
//     currency) pair with a currency field. The first TopSKUs entries by
//     quantity descending, then revenue descending, then sku and currency
//     ascending (byte order) are reported. In each currency the revenues
//     of all (not only the top) entries add up to gross.
//   - daily has an entry per UTC date and currency: placed counts the
//     orders placed that day (by placed_at), paid those paid that day (by
//     paid_at) and revenue their amounts; like gross, a later refund
//     reduces neither. Sorted by date then currency. A query returns the
//     dates of a Window, at most MaxDays of them (by default those ending
//     with the latest date), so that the answer stays bounded as the
//     store ages; the tables keep every date.
//
// In short: gross, average_order_value, top_skus and daily record
// payments when they are made and are never reduced; refunds record what
// cancellations of paid orders gave back, when they did; net = gross −
// refunds is the one figure net of refunds. Every figure follows from
// the events alone, so a rebuild gives the same report.
//
// Every list is sorted and the revenue map is encoded with sorted keys, so
// two read models built from the same events encode to the same bytes.
//
// # Tables
//
// The projection writes tables named with a prefix given by its runner, so
// the same code fills the live tables and the shadow tables of a rebuild:
// counters per status, currency, (sku, currency) and (date, currency), and
// prefix+"orders", the status, currency and lines of every open order.
package analytics
