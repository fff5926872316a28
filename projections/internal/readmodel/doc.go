// Package readmodel holds what the stock and analytics projections share:
// the decoded event they apply, the table of open orders each keeps for
// itself (order events after OrderPlaced carry no lines or currency), and
// bulk statements that keep per-row overhead out of a batch.
package readmodel
