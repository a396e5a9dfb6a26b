"""Storage: SQLite is the source of truth; LanceDB is a derived vector index."""
