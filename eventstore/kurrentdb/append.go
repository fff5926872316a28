package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/orderstore/orderstore/eventstore"
)

// Append implements eventstore.Store. Events keep the caller's IDs, so the
// server deduplicates a repeated append at the same place within the stream;
// it does not look for the IDs in other streams.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		meta := []byte(e.Metadata)
		if len(meta) == 0 {
			meta = []byte("{}")
		}
		data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Data, Metadata: meta}
	}
	var res eventstore.AppendResult
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		wr, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, data...)
		if code, ok := codeOf(err); ok && code == esdb.ErrorCodeWrongExpectedVersion {
			actual, ok := parseActual(err.Error())
			if !ok {
				if actual, err = lastVersion(ctx, c, stream); err != nil {
					return err
				}
			}
			return &eventstore.VersionError{Stream: stream, Expected: expected, Actual: actual}
		}
		if err != nil {
			return err
		}
		res = eventstore.AppendResult{Version: int64(wr.NextExpectedVersion), Position: knownPosition(wr.CommitPosition)}
		if res.Position == 0 {
			// A repeated append may be acknowledged without a position.
			res.Position, err = positionOf(ctx, c, stream, wr.NextExpectedVersion)
		}
		return err
	})
	if err != nil {
		return eventstore.AppendResult{}, s.fail(ctx, "append "+stream, err)
	}
	return res, nil
}

// expectedRevision maps an expected version onto the client's. e must be
// valid.
func expectedRevision(e eventstore.ExpectedVersion) esdb.ExpectedRevision {
	switch e {
	case eventstore.Any:
		return esdb.Any{}
	case eventstore.NoStream:
		return esdb.NoStream{}
	case eventstore.StreamExists:
		return esdb.StreamExists{}
	}
	return esdb.Revision(uint64(e))
}

// lastVersion returns the version of the stream's last event, NoVersion if
// it has none.
func lastVersion(ctx context.Context, c *esdb.Client, stream string) (int64, error) {
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	re, err := rs.Recv()
	switch code, _ := codeOf(err); {
	case errors.Is(err, io.EOF), code == esdb.ErrorCodeResourceNotFound:
		return eventstore.NoVersion, nil
	case err != nil:
		return 0, err
	}
	return int64(re.OriginalEvent().EventNumber), nil
}

// positionOf returns the position of a stream's event.
func positionOf(ctx context.Context, c *esdb.Client, stream string, version uint64) (uint64, error) {
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Revision(version)}, 1)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	re, err := rs.Recv()
	if errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("event %d of %s not found after appending it", version, stream)
	}
	if err != nil {
		return 0, err
	}
	// Some server versions report no position on stream reads: then the
	// position stays unknown (0), which only weakens read-your-writes for
	// this repeated append, whose events projections have long applied.
	return knownPosition(re.OriginalEvent().Position.Commit), nil
}
