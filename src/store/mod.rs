//! Storage (sqlx; SQLite embedded default, PostgreSQL for scale).
