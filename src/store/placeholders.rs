//! How a multi-row statement names its parameters, per backend.
//!
//! PostgreSQL needs `$1, $2, …`. SQLite accepts `$N` too, but then sqlx looks every parameter up
//! by name (`sqlite3_bind_parameter_index`, a linear scan with a string compare per entry) in a
//! list as long as the statement's parameters: quadratic in the row count, and the largest single
//! cost of a bulk insert in the profiles (RU documents, then the KZ batch commit). So SQLite
//! statements use positional `?`, bound in the order they appear in the text.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sqlx::AnyConnection;

/// Placeholder style of the statement text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …` (SQLite): parameters bound in textual order.
    Positional,
}

impl Placeholders {
    /// The style for `conn`'s backend.
    pub fn of(conn: &AnyConnection) -> Placeholders {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Placeholders::Positional
        } else {
            Placeholders::Numbered
        }
    }

    /// The placeholder of parameter `n` (1-based); with [`Placeholders::Positional`] the caller
    /// must write them into the text in the order it binds.
    pub fn nth(self, n: usize) -> String {
        match self {
            Placeholders::Numbered => format!("${n}"),
            Placeholders::Positional => "?".to_owned(),
        }
    }

    /// `(p1, …, pW), (…)`: `rows` tuples of `width` parameters numbered from `first`.
    pub fn tuples(self, rows: usize, width: usize, first: usize) -> String {
        let mut out = String::with_capacity(rows * (width * 4 + 4));
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for col in 0..width {
                if col > 0 {
                    out.push_str(", ");
                }
                out.push_str(&self.nth(first + row * width + col));
            }
            out.push(')');
        }
        out
    }
}

/// Rows a multi-row statement is written for when `n` rows are bound; the statement binds the
/// rest as all-NULL rows that its WHERE leaves out. sqlx keeps 100 prepared statements per
/// connection, shared by everything the writer runs; one shape per batch size overflowed it
/// once batches reached a hundred rows, and a statement of hundreds of parameters was prepared
/// again for each batch. Buckets: 1, 2, 4, 8, then multiples of 8 up to 64, then of 64 —
/// eighteen shapes up to 512 rows, at most 63 padding rows (7 up to 64).
pub fn bucket(n: usize) -> usize {
    match n {
        0..=8 => n.next_power_of_two(),
        9..=64 => n.div_ceil(8) * 8,
        _ => n.div_ceil(64) * 64,
    }
}

/// The texts of one multi-row statement, built on first use for each placeholder style and
/// [`bucket`] size and kept for the life of the process (at most 2 × 18 of them up to 512
/// rows): a batch does not format its statement again, and sqlx's prepared-statement cache
/// sees the same few texts. The one way the store's multi-row statements are kept.
pub struct StatementTexts {
    build: fn(Placeholders, usize) -> String,
    built: Mutex<BTreeMap<(bool, usize), &'static str>>,
}

impl StatementTexts {
    /// Texts that `build(style, rows)` writes.
    pub const fn new(build: fn(Placeholders, usize) -> String) -> Self {
        StatementTexts {
            build,
            built: Mutex::new(BTreeMap::new()),
        }
    }

    /// The text for `rows` rows (a [`bucket`] size) in `style`.
    pub fn get(&self, style: Placeholders, rows: usize) -> &'static str {
        debug_assert_eq!(bucket(rows), rows, "a bucket size");
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        built
            .entry((style == Placeholders::Numbered, rows))
            .or_insert_with(|| Box::leak((self.build)(style, rows).into_boxed_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_or_position_their_parameters() {
        assert_eq!(Placeholders::Numbered.tuples(2, 2, 3), "($3, $4), ($5, $6)");
        assert_eq!(Placeholders::Positional.tuples(2, 2, 3), "(?, ?), (?, ?)");
        assert_eq!(Placeholders::Numbered.nth(7), "$7");
    }

    #[test]
    fn statement_texts_are_built_once_per_style_and_size() {
        static TEXTS: StatementTexts =
            StatementTexts::new(|style, rows| format!("VALUES {}", style.tuples(rows, 1, 1)));
        let first = TEXTS.get(Placeholders::Numbered, 2);
        assert_eq!(first, "VALUES ($1), ($2)");
        assert!(std::ptr::eq(first, TEXTS.get(Placeholders::Numbered, 2)));
        assert_eq!(TEXTS.get(Placeholders::Positional, 2), "VALUES (?), (?)");
        assert_eq!(
            TEXTS.get(Placeholders::Numbered, 4),
            "VALUES ($1), ($2), ($3), ($4)"
        );
    }

    #[test]
    fn buckets_cover_their_rows_with_few_shapes() {
        let shapes: std::collections::BTreeSet<usize> = (1..=512).map(bucket).collect();
        assert_eq!(shapes.len(), 18);
        for n in 1..=512 {
            let b = bucket(n);
            assert!(b >= n && b - n < 64, "{n} -> {b}");
            if n <= 64 {
                assert!(b - n < 8, "{n} -> {b}");
            }
        }
        assert_eq!(
            (bucket(1), bucket(3), bucket(9), bucket(65)),
            (1, 4, 16, 128)
        );
    }
}
