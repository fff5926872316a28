package correlations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/internal/readmodel"
)

// Name is the projection's name, as used in checkpoints, status and URLs.
const Name = "correlations"

// Version is the version of the projection's table. Bumping it makes the
// runner rebuild the index at startup.
const Version = 1

// Projection indexes events by correlation ID. The zero value is ready to
// use and has no state of its own: it is safe for concurrent use.
type Projection struct{}

// Name returns Name.
func (Projection) Name() string { return Name }

// Version returns Version.
func (Projection) Version() int { return Version }

// TakesRecorded reports true: the index takes every event of $all, of any
// type, as recorded, and never decodes a payload, so that no event can
// stop it.
func (Projection) TakesRecorded() bool { return true }

// Handles reports false: the index needs no event decoded.
func (Projection) Handles(string) bool { return false }

// Schema returns the DDL of the index, named with prefix: one row per
// event that has a correlation ID, clustered by (correlation ID, position)
// so that a flow's events are read together. Positions are those of the
// store (tokens: KurrentDB's may be shared by the events of one legacy
// transaction, which stream and version then tell apart).
func (Projection) Schema(prefix string) string {
	return `CREATE TABLE ` + prefix + `refs (
	correlation_id TEXT    NOT NULL,
	position       INTEGER NOT NULL,
	stream         TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	PRIMARY KEY (correlation_id, position, stream, version)
) STRICT, WITHOUT ROWID;`
}

// Indexes returns "": the table is its own index.
func (Projection) Indexes(string) string { return "" }

// Apply records the events that have a correlation ID. Re-applying an
// event changes nothing. It fails only on the database.
func (Projection) Apply(ctx context.Context, tx *sql.Tx, t *readmodel.Tables, events []readmodel.Event) (int, error) {
	args := make([]any, 0, 5*len(events))
	for _, ev := range events {
		if id := eventstore.CorrelationID(ev.Metadata); id != "" {
			args = append(args, id, int64(ev.Position), ev.Stream, ev.Version, ev.Type)
		}
	}
	err := readmodel.ExecValues(ctx, tx, `INSERT INTO `+t.Prefix+`refs (correlation_id, position, stream, version, type)`,
		`ON CONFLICT DO NOTHING`, 5, args)
	if err != nil {
		return 0, readmodel.Storage(fmt.Errorf("index correlations: %w", err))
	}
	return len(events), nil
}
