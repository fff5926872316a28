package embedded

import (
	"sync"
	"sync/atomic"
)

// streamVersion is the version a stream reached in a commit.
type streamVersion struct {
	stream  string
	version int64
}

// committedVersions are the versions of the streams committed since Open,
// for StreamVersion: readers look them up without a query, the writer
// records each commit's before it publishes the commit. It forgets
// everything when it grows past its bound, and is then rebuilt by the
// commits that follow.
type committedVersions struct {
	m sync.Map // stream → int64
	n atomic.Int64
}

// committedVersionsSize bounds the streams remembered: the hot ones are
// those written recently, which a bound of this size keeps.
const committedVersionsSize = 1 << 16

// record records the versions a commit reached; only the writer calls it.
func (c *committedVersions) record(streams []streamVersion) {
	if c.n.Load()+int64(len(streams)) > committedVersionsSize {
		c.m.Clear()
		c.n.Store(0)
	}
	for _, sv := range streams {
		if _, had := c.m.Swap(sv.stream, sv.version); !had {
			c.n.Add(1)
		}
	}
}

// StreamVersion implements eventstore.StreamVersioner: the version of
// stream's last committed event, if stream was written since Open (and
// not forgotten since; see committedVersions).
func (s *Store) StreamVersion(stream string) (int64, bool) {
	v, ok := s.committed.m.Load(stream)
	if !ok {
		return 0, false
	}
	return v.(int64), true //nolint:forcetypeassert // only int64 is stored
}
