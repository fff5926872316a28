package api

import (
	"bytes"
	"context"
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
	// DefaultStreamStall is how long a full buffer may stay full before
	// the client is cut off: while catching up, the follower waits for the
	// client (history comes at its pace), but live events come at the
	// writers' pace, and a client that cannot take them is let go.
	DefaultStreamStall = 5 * time.Second

	// streamWriteTimeout bounds one write to a stream's client: one that
	// takes nothing for this long (heartbeats come more often) is gone.
	streamWriteTimeout = time.Minute
)

// errStreamOverflow ends the follower of a client whose buffer is full.
var errStreamOverflow = errors.New("stream buffer full")

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
// A producer goroutine follows the store into a bounded buffer; this one
// writes. When the buffer is full the client is not keeping up: the stream
// ends with an event "cutoff" whose resume_after (and id) is the position
// of the last event written, so that a reconnect loses and repeats
// nothing.
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
	if err := rc.Flush(); err != nil {
		return
	}
	write := func(b []byte) error {
		// The server's WriteTimeout is for answers, not streams: each
		// write gets a deadline of its own (a writer without deadlines
		// has none to set).
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) //nolint:errcheck // see above
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}

	ctx, cancel := context.WithCancel(r.Context())
	buf := make(chan eventstore.RecordedEvent, s.cfg.StreamBuffer)
	overflow := make(chan struct{})
	followed := make(chan error, 1)
	producing := true
	defer func() {
		// The follower ends with ctx; it reads the store, which may close
		// once the server has stopped.
		cancel()
		if producing {
			<-followed
		}
	}()
	go func() {
		followed <- s.follow(ctx, after, filter, func(e eventstore.RecordedEvent) error {
			select {
			case buf <- e:
				return nil
			default:
			}
			stall := time.NewTimer(s.cfg.StreamStall)
			defer stall.Stop()
			select {
			case buf <- e:
				return nil
			case <-stall.C:
				close(overflow)
				return errStreamOverflow
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	heartbeat := time.NewTicker(s.cfg.StreamHeartbeat)
	defer heartbeat.Stop()
	var (
		sent = after
		out  bytes.Buffer
	)
	for {
		select {
		case <-overflow:
			_ = write(s.cutoffEvent(s.slowClient(sent))) //nolint:errcheck // the stream ends either way
			return
		case e := <-buf:
			out.Reset()
			writeEvent(&out, e)
			// Whatever else is waiting goes in the same write.
			for more := true; more && out.Len() < 64<<10; {
				select {
				case e = <-buf:
					writeEvent(&out, e)
				default:
					more = false
				}
			}
			if err := write(out.Bytes()); err != nil {
				return
			}
			sent = e.Position
		case <-heartbeat.C:
			if err := write([]byte(": heartbeat\n\n")); err != nil {
				return
			}
		case err := <-followed:
			producing = false
			if ctx.Err() != nil {
				return
			}
			c := s.slowClient(sent)
			if !errors.Is(err, errStreamOverflow) {
				// The store failed or closed: say so, and where to resume.
				info(r.Context()).err = err
				c = cutoff{Reason: "store_unavailable", ResumeAfter: sent,
					Detail: fmt.Sprintf("the event store stopped answering; reconnect later with Last-Event-ID or ?after=%d", sent)}
			}
			_ = write(s.cutoffEvent(c)) //nolint:errcheck // the stream ends either way
			return
		case <-ctx.Done():
			return
		}
	}
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
	data, _ := json.Marshal(eventjson.From(e)) //nolint:errcheck // raw JSON the store validated
	out.WriteString("id: ")
	out.WriteString(strconv.FormatUint(e.Position, 10))
	out.WriteString("\nevent: ")
	out.WriteString(sseField(e.Type))
	out.WriteString("\ndata: ")
	out.Write(data)
	out.WriteString("\n\n")
}

// sseField keeps a value on its line: a type with a line break would end
// the field.
func sseField(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// follow calls emit with every event after the position that f selects,
// first those recorded, then live, until ctx ends, emit fails, or the
// store does. Without a filter it subscribes. With one it catches up
// through the store's index (ReadFiltered) up to at least the head it saw
// first, then subscribes from there and filters by itself: every event
// the index has not shown is one the subscription sees.
func (s *Server) follow(ctx context.Context, after uint64, f eventstore.Filter, emit func(eventstore.RecordedEvent) error) error {
	if !f.IsZero() {
		head, err := s.cfg.Store.Head(ctx)
		if err != nil {
			return err
		}
		last := after
		for {
			page, err := s.cfg.Store.ReadFiltered(ctx, last, 500, f)
			if err != nil {
				return err
			}
			for _, e := range page {
				if err := emit(e); err != nil {
					return err
				}
			}
			if len(page) < 500 {
				break
			}
			last = page[len(page)-1].Position
		}
		// Positions compare, though they may not be computed: the
		// subscription starts at the later of the head seen before the
		// reads and the last event they returned.
		if head > last {
			last = head
		}
		after = last
	}
	return s.cfg.Store.Subscribe(ctx, after, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			if f.Match(e) {
				if err := emit(e); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
