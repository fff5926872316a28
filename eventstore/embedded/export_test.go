package embedded

// SchemaDDL lets the bare-engine benchmarks build exactly the store's table.
const SchemaDDL = schemaDDL

// Holding reports whether the writer is holding a commit for appends
// announced with Expect.
func (s *Store) Holding() bool { return s.holding.Load() }

// Expected is the number of appends announced and not yet queued.
func (s *Store) Expected() int64 { return s.expected.Load() }
