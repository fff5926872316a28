package embedded

import (
	"context"
	"strings"

	"github.com/orderstore/orderstore/eventstore"
)

// prefixScanThreshold decides how ReadFiltered reads a stream prefix: a
// prefix with fewer events than this is read through the stream index and
// sorted by position (cost: its events); one with more is read along the
// log, skipping other streams (cost: the log's events up to the page's
// last, which holds a page of them sooner the more there are).
const prefixScanThreshold = 4096

// ReadFiltered implements eventstore.Store through indexes: a correlation
// ID through the index on the metadata's correlation_id, a type through
// the index on type, both ordered by position, so that a page costs its
// own events; a stream prefix alone as prefixScanThreshold says. With
// several fields, the most selective index serves and the others filter.
func (s *Store) ReadFiltered(ctx context.Context, after uint64, limit int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if f.IsZero() {
		return s.ReadAll(ctx, after, limit)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	if err := s.checkAfter(ctx, after); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
		index string
	)
	if f.CorrelationID != "" {
		where, args = append(where, correlationExpr+` = ?`), append(args, f.CorrelationID)
		index = "INDEXED BY events_correlation"
	}
	if f.Type != "" {
		where, args = append(where, `type = ?`), append(args, f.Type)
		if index == "" {
			index = "INDEXED BY events_type"
		}
	}
	if f.StreamPrefix != "" {
		lo, hi, bounded := prefixRange(f.StreamPrefix)
		if bounded {
			where, args = append(where, `stream >= ? AND stream < ?`), append(args, lo, hi)
		} else {
			where, args = append(where, `stream >= ?`), append(args, lo)
		}
		if index == "" {
			index = "NOT INDEXED"
			few, err := s.fewInPrefix(ctx, lo, hi, bounded)
			if err != nil {
				return nil, err
			}
			if few {
				index = "INDEXED BY events_stream_version"
			}
		}
	}
	// Only what is published, as ReadAll.
	where, args = append(where, `position > ?`, `position <= ?`), append(args, int64(after), int64(s.head.Load()))
	query := `SELECT position, stream, version, id, type, data, metadata, recorded_at FROM events ` + index +
		` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY position LIMIT ?`
	return s.query(ctx, "read $all filtered", limit, query, append(args, sqlLimit(limit))...)
}

// fewInPrefix reports whether the streams in [lo, hi) hold fewer than
// prefixScanThreshold events, counting no further than that in the stream
// index.
func (s *Store) fewInPrefix(ctx context.Context, lo, hi string, bounded bool) (bool, error) {
	cond, args := `stream >= ?`, []any{lo, prefixScanThreshold}
	if bounded {
		cond, args = `stream >= ? AND stream < ?`, []any{lo, hi, prefixScanThreshold}
	}
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	var n int
	err := s.readDB.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events INDEXED BY events_stream_version WHERE `+
		cond+` LIMIT ?)`, args...).Scan(&n)
	if err != nil {
		return false, s.readError("read $all filtered", ctx, err)
	}
	return n < prefixScanThreshold, nil
}

// prefixRange returns the range of names that start with prefix, in
// SQLite's byte order: [lo, hi), or [lo, ∞) when no string bounds it (a
// prefix of 0xFF bytes).
func prefixRange(prefix string) (lo, hi string, bounded bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return prefix, string(b[:i+1]), true
		}
	}
	return prefix, "", false
}
