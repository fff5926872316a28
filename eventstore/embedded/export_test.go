package embedded

// SchemaDDL lets the bare-engine benchmarks build exactly the store's table.
const SchemaDDL = schemaDDL
