package readmodel

import (
	"context"
	"database/sql"
	"strings"
)

// chunkRows bounds the rows of one statement, well below SQLite's limit of
// 32,766 parameters.
const chunkRows = 500

// ExecValues runs "head VALUES (?,…),(?,…)… tail" over args, which holds
// width values per row, in as few statements as the parameter limit allows.
// One statement per chunk costs far less than one per row.
func ExecValues(ctx context.Context, tx *sql.Tx, head, tail string, width int, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/width, chunkRows)
		var q strings.Builder
		q.WriteString(head)
		q.WriteString(" VALUES ")
		row := "(" + strings.Repeat("?,", width-1) + "?)"
		for i := range n {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(row)
		}
		q.WriteByte(' ')
		q.WriteString(tail)
		if _, err := tx.ExecContext(ctx, q.String(), args[:n*width]...); err != nil {
			return err
		}
		args = args[n*width:]
	}
	return nil
}

// placeholders returns "?,?,…" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
