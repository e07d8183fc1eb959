//! How a multi-row statement names its parameters, per backend.
//!
//! PostgreSQL needs `$1, $2, …`. SQLite accepts `$N` too, but then sqlx looks every parameter up
//! by name (`sqlite3_bind_parameter_index`, a linear scan with a string compare per entry) in a
//! list as long as the statement's parameters: quadratic in the row count, and the largest single
//! cost of a bulk insert in the profiles (RU documents, then the KZ batch commit). So SQLite
//! statements use positional `?`, bound in the order they appear in the text.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_or_position_their_parameters() {
        assert_eq!(Placeholders::Numbered.tuples(2, 2, 3), "($3, $4), ($5, $6)");
        assert_eq!(Placeholders::Positional.tuples(2, 2, 3), "(?, ?), (?, ?)");
        assert_eq!(Placeholders::Numbered.nth(7), "$7");
    }
}
