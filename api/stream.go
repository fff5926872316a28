package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/eventjson"
)

// Defaults of GET /events/stream.
const (
	// DefaultStreamHeartbeat is the interval of the comment lines that
	// keep an idle stream's connection (and the proxies on its way) open.
	DefaultStreamHeartbeat = 15 * time.Second
	// DefaultStreamBuffer is the number of events a stream holds for a
	// client that reads slower than they come: past it the client is cut
	// off, told where to resume.
	DefaultStreamBuffer = 4096
	// DefaultStreamFlush is the least time between two writes of a live
	// stream: under load each client gets one write (one syscall, one
	// wake-up of the reader) per interval rather than one per commit,
	// for at most this much latency; an idle stream writes at once. 50 ms
	// against 20 ms: the order path with 50 followers went from 0.75 to
	// 0.83 of its rate without them (docs/traces.md, Stream fan-out).
	DefaultStreamFlush = 50 * time.Millisecond
	// streamFlushBytes is what a live stream holds before writing without
	// waiting for the interval.
	streamFlushBytes = 256 << 10
	// streamWriteTimeout bounds one write to a stream's client: one that
	// takes nothing for this long (heartbeats come more often) is gone.
	streamWriteTimeout = time.Minute
)

// cutoff is the data of the last event of a stream the server ends.
type cutoff struct {
	Reason      string `json:"reason"`
	ResumeAfter uint64 `json:"resume_after"`
	Detail      string `json:"detail"`
}

// streamEvents serves GET /events/stream: the events of $all (those the
// filters select) as Server-Sent Events, from after (?after, or the
// Last-Event-ID a reconnecting client sends, which wins), then live.
//
// History is read at the client's pace (through the index when filtered);
// once caught up the stream joins the hub, one subscription shared by all
// live streams, which hands it encoded events into a bounded buffer. When
// the buffer is full the client is not keeping up: the stream ends with an
// event "cutoff" whose resume_after (and id) is the position of the last
// event written, so that a reconnect loses and repeats nothing.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	filter, err := eventFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := streamAfter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if after != 0 {
		// Refuse a position that is none before the stream starts: a
		// subscription would fail only once the answer is under way.
		if _, err := s.cfg.Store.ReadAll(r.Context(), after, 1); err != nil {
			if errors.Is(err, eventstore.ErrInvalidPosition) {
				err = invalidAfter(r.Context(), s.cfg.Store, after)
			}
			s.fail(w, r, err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, ok := w.(headWriter); ok {
		return // HEAD: the headers are the answer
	}
	rc := http.NewResponseController(w)
	// The server's WriteTimeout is for answers, not streams: the headers,
	// like each write after them, get a deadline of their own (a writer
	// without deadlines has none to set). Flushed on the answer's own
	// deadline, they missed it when the handler got here late: a loaded
	// machine, a slow read of the position above.
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) //nolint:errcheck // see above
	if err := rc.Flush(); err != nil {
		return
	}
	write := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) //nolint:errcheck // see above
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}

	ctx := r.Context()
	heartbeat := time.NewTicker(s.cfg.StreamHeartbeat)
	defer heartbeat.Stop()
	var out bytes.Buffer
	// sent is the position of the last event written; caught the position
	// the stream has read the log up to (the same, or past it when a
	// filter left later events out).
	sent := after
	copyLog := func(upTo uint64) (bool, error) {
		// History comes at the client's pace: each page is written before
		// the next is read.
		caught := sent
		for {
			page, err := s.cfg.Store.ReadFiltered(ctx, caught, 500, filter)
			if err != nil {
				return false, err
			}
			out.Reset()
			for _, e := range page {
				if upTo != 0 && e.Position > upTo {
					break
				}
				writeEvent(&out, e)
				sent = e.Position
			}
			if out.Len() > 0 {
				if err := write(out.Bytes()); err != nil {
					return false, nil
				}
			}
			if len(page) < 500 || (upTo != 0 && page[len(page)-1].Position >= upTo) {
				return true, nil
			}
			caught = page[len(page)-1].Position
		}
	}
	// Catch up by reading, then join the shared subscription and read the
	// events committed in between, up to where it takes over.
	if ok, err := copyLog(0); !ok {
		s.endStream(w, r, write, sent, err)
		return
	}
	sub, joined, err := s.hub.join(ctx)
	if err != nil {
		s.endStream(w, r, write, sent, err)
		return
	}
	defer s.hub.leave(sub)
	if joined > sent {
		if ok, err := copyLog(joined); !ok {
			s.endStream(w, r, write, sent, err)
			return
		}
	}
	// Live: the hub's batches are written at most once per StreamFlush.
	// While a write is timed the stream does not take them (frames is
	// nil): they wait in the buffer, where the hub counts them, and the
	// stream wakes once for all of them. out holds what is taken and not
	// written; pending is the position of its last event (sent when it
	// holds none).
	pending := sent
	all := filter.IsZero()
	take := func(batch []frame) {
		sub.queued.Add(-int64(len(batch)))
		for _, f := range batch {
			if f.ev.Position > pending && (all || filter.Match(f.ev)) {
				out.Write(f.data)
				pending = f.ev.Position
			}
		}
	}
	// drain takes the waiting batches until there are none (false) or out
	// holds streamFlushBytes (true).
	drain := func() bool {
		for out.Len() < streamFlushBytes {
			select {
			case batch := <-sub.frames:
				take(batch)
			default:
				return false
			}
		}
		return true
	}
	var nextFlush time.Time
	flush := func() error {
		if out.Len() == 0 {
			return nil
		}
		err := write(out.Bytes())
		out.Reset()
		sent = pending
		nextFlush = time.Now().Add(s.cfg.StreamFlush)
		return err
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	frames := sub.frames
	out.Reset()
	for {
		select {
		case <-sub.overflow:
			// What out holds goes first: the cutoff resumes after it.
			out.Write(s.cutoffEvent(s.slowClient(pending)))
			_ = write(out.Bytes()) //nolint:errcheck // the stream ends either way
			return
		case batch := <-frames:
			take(batch)
			if out.Len() == 0 {
				continue
			}
			if out.Len() < streamFlushBytes {
				if wait := time.Until(nextFlush); wait > 0 {
					timer.Reset(wait)
					frames = nil
					continue
				}
			}
			if err := flush(); err != nil {
				return
			}
		case <-timer.C:
			frames = sub.frames
			for {
				more := drain()
				if err := flush(); err != nil {
					return
				}
				if !more {
					break
				}
			}
		case <-heartbeat.C:
			out.WriteString(": heartbeat\n\n")
			if err := flush(); err != nil {
				return
			}
		case err := <-sub.failed:
			for drain() {
				if flush() != nil {
					return
				}
			}
			if flush() == nil {
				s.endStream(w, r, write, sent, err)
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

// endStream ends a stream that failed to read the store with a cutoff
// saying where to resume; nothing when the client has gone.
func (s *Server) endStream(w http.ResponseWriter, r *http.Request, write func([]byte) error, sent uint64, err error) {
	if err == nil || r.Context().Err() != nil {
		return
	}
	info(r.Context()).err = err
	_ = write(s.cutoffEvent(cutoff{Reason: "store_unavailable", ResumeAfter: sent, //nolint:errcheck // the stream ends either way
		Detail: fmt.Sprintf("the event store stopped answering; reconnect later with Last-Event-ID or ?after=%d", sent)}))
}

// slowClient is the cutoff of a client that did not keep up.
func (s *Server) slowClient(sent uint64) cutoff {
	return cutoff{Reason: "slow_client", ResumeAfter: sent,
		Detail: fmt.Sprintf("the client read slower than events came and %d were waiting; reconnect with Last-Event-ID or ?after=%d", s.cfg.StreamBuffer, sent)}
}

// streamAfter reads where a stream starts: Last-Event-ID if sent (a
// reconnecting EventSource sends it, with the URL's original ?after),
// else ?after, else 0.
func streamAfter(r *http.Request) (uint64, error) {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 63)
		if err != nil {
			return 0, &requestError{status: http.StatusBadRequest, code: "invalid_header", field: "Last-Event-ID",
				detail: "Last-Event-ID must be the id of an event of this stream (a position), not " + strconv.Quote(v)}
		}
		return n, nil
	}
	n, err := queryInt(r, "after", 0, 0, 1<<62)
	return uint64(n), err
}

// cutoffEvent renders the last event of a stream the server ends.
func (s *Server) cutoffEvent(c cutoff) []byte {
	data, _ := json.Marshal(c) //nolint:errcheck // plain values
	return fmt.Appendf(nil, "id: %d\nevent: cutoff\ndata: %s\n\n", c.ResumeAfter, data)
}

// writeEvent appends e to out as one Server-Sent Event: id the position,
// event the type, data the event as GET /events shows it (one line: JSON
// escapes newlines).
func writeEvent(out *bytes.Buffer, e eventstore.RecordedEvent) {
	out.WriteString("id: ")
	var n [20]byte
	out.Write(strconv.AppendUint(n[:0], e.Position, 10))
	out.WriteString("\nevent: ")
	out.WriteString(sseField(e.Type))
	out.WriteString("\ndata: ")
	out.Write(eventFrame(out.AvailableBuffer(), e))
	out.WriteString("\n\n")
}

// eventFrame is the event as GET /events shows it, appended to b.
func eventFrame(b []byte, e eventstore.RecordedEvent) []byte {
	b, _ = eventjson.Append(b, e) //nolint:errcheck // raw JSON the store validated
	return b
}

// sseField keeps a value on its line: a type with a line break would end
// the field.
func sseField(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}
