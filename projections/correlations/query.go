package correlations

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Ref is where an indexed event is.
type Ref struct {
	Position uint64
	Stream   string
	Version  int64
}

// Query selects indexed events: those of CorrelationID, after a position,
// and, where set, of a type and of streams with a prefix.
type Query struct {
	CorrelationID string
	After         uint64
	Type          string
	StreamPrefix  string
	// Limit bounds the events found (none if ≤ 0), except that a page
	// never ends inside the events of one position: those sharing the last
	// one's are found too, as the next page starts after that position.
	Limit int
}

// Find returns the events q selects from the index named with prefix, in
// log order.
func Find(ctx context.Context, tx *sql.Tx, prefix string, q Query) ([]Ref, error) {
	var where strings.Builder
	args := []any{q.CorrelationID, int64(q.After)}
	where.WriteString(`correlation_id = ? AND position > ?`)
	if q.Type != "" {
		where.WriteString(` AND type = ?`)
		args = append(args, q.Type)
	}
	if q.StreamPrefix != "" {
		// Characters on both sides, as SQLite counts them in text.
		where.WriteString(` AND substr(stream, 1, length(?)) = ?`)
		args = append(args, q.StreamPrefix, q.StreamPrefix)
	}
	sel := `SELECT position, stream, version FROM ` + prefix + `refs WHERE ` + where.String()
	order := ` ORDER BY position, stream, version`
	if q.Limit <= 0 {
		return scan(ctx, tx, sel+order, args...)
	}
	refs, err := scan(ctx, tx, sel+order+` LIMIT ?`, append(args, q.Limit)...)
	if err != nil || len(refs) < q.Limit {
		return refs, err
	}
	// The whole of the last position.
	last := refs[len(refs)-1].Position
	tail, err := scan(ctx, tx, sel+` AND position = ?`+order, append(args, int64(last))...)
	if err != nil {
		return nil, err
	}
	i := len(refs)
	for i > 0 && refs[i-1].Position == last {
		i--
	}
	return append(refs[:i], tail...), nil
}

func scan(ctx context.Context, tx *sql.Tx, query string, args ...any) (_ []Ref, err error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query the correlation index: %w", err)
	}
	defer func() {
		if cerr := rows.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("query the correlation index: %w", cerr)
		}
	}()
	var refs []Ref
	for rows.Next() {
		var r Ref
		var pos int64
		if err := rows.Scan(&pos, &r.Stream, &r.Version); err != nil {
			return nil, fmt.Errorf("query the correlation index: %w", err)
		}
		r.Position = uint64(pos)
		refs = append(refs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query the correlation index: %w", err)
	}
	return refs, nil
}
