//! Reading the CSV files the cabinet imports (bank statements, product catalogues): the one way
//! uploads are parsed, so that every import reports per row in the same terms.
//!
//! A file is UTF-8 text with a header row naming the columns (any order, case-insensitive,
//! surrounding spaces ignored; `,` or `;` as the separator, whichever the header uses). Each
//! following row becomes a [`CsvRow`] that knows its line number for the report; a row the
//! reader cannot split is an error of that row only. Amounts are decimals with at most two
//! fractional digits (`1500`, `1500.5`, `1 500,50`) read into minor units.

use std::collections::HashMap;

use super::error::ApiError;

/// Most data rows one upload may hold.
pub const MAX_ROWS: usize = 10_000;

/// A data row with its line number: its cells, or why the line could not be read.
pub type NumberedRow = (u64, Result<CsvRow, String>);

/// One data row's cells by column name.
#[derive(Debug)]
pub struct CsvRow {
    cells: HashMap<String, String>,
}

impl CsvRow {
    /// The trimmed, non-empty cell of `column`.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.cells
            .get(column)
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
    }

    /// The cell of `column`, or the row's error naming it.
    pub fn required(&self, column: &str) -> Result<&str, String> {
        self.get(column).ok_or_else(|| format!("{column}: missing"))
    }
}

/// The rows of `text` with their line numbers (the header is line 1), each a [`CsvRow`] or the
/// error of that line. The whole file is refused
/// (400 naming `file`) when it has no header, lacks one of `required` columns or has too many
/// rows.
pub fn read_rows(text: &str, required: &[&str]) -> Result<Vec<NumberedRow>, ApiError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::bad_request("invalid_file", format!("file: header: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(ApiError::bad_request(
            "invalid_file",
            "file: empty; the first line names the columns",
        ));
    }
    if let Some(missing) = required.iter().find(|c| !header.iter().any(|h| h == *c)) {
        return Err(ApiError::bad_request(
            "invalid_file",
            format!(
                "file: no column {missing:?} in the header (needs {})",
                required.join(", ")
            ),
        ));
    }
    // The file's own line of a record (the reader's line count skips blank lines).
    let line_at = |position: Option<&csv::Position>| {
        position.map_or(0, |p| {
            let bytes = text.as_bytes();
            let mut offset = usize::try_from(p.byte())
                .unwrap_or(usize::MAX)
                .min(text.len());
            // A record's position may be where the blank lines before it begin.
            while offset < bytes.len() && matches!(bytes[offset], b'\n' | b'\r') {
                offset += 1;
            }
            bytes[..offset].iter().filter(|b| **b == b'\n').count() as u64 + 1
        })
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() >= MAX_ROWS {
            return Err(ApiError::bad_request(
                "invalid_file",
                format!("file: more than {MAX_ROWS} rows; split it"),
            ));
        }
        match record {
            Ok(record) => {
                let line = line_at(record.position());
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                let cells = header
                    .iter()
                    .cloned()
                    .zip(record.iter().map(str::to_owned))
                    .collect();
                rows.push((line, Ok(CsvRow { cells })));
            }
            Err(error) => {
                let line = line_at(error.position());
                rows.push((line, Err(format!("unreadable row: {error}"))));
            }
        }
    }
    Ok(rows)
}

/// A decimal amount (`1500`, `1500.50`, `1 500,5`) in minor units (hundredths).
pub fn amount_minor(text: &str) -> Result<i64, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (cleaned.as_str(), None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > 2) {
        return Err(format!(
            "{text:?} is not an amount (digits, at most two after the point)"
        ));
    }
    let whole: i64 = whole
        .parse()
        .ok()
        .filter(|w| *w <= 10_000_000_000_000)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    let cents: i64 = format!("{:0<2}", fraction.unwrap_or(""))
        .parse()
        .unwrap_or(0);
    Ok(whole * 100 + cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_minor_units() {
        assert_eq!(amount_minor("1500"), Ok(150_000));
        assert_eq!(amount_minor("1500.5"), Ok(150_050));
        assert_eq!(amount_minor("1 500,05"), Ok(150_005));
        assert_eq!(amount_minor("0.99"), Ok(99));
        for bad in ["", "-5", "1.234", "12a", "1.", ".5", "1e3"] {
            assert!(amount_minor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rows_by_header_name_with_line_numbers() {
        let text = "Invoice_Number;Amount\nINV-000001;100,00\n\n\"INV-000002\";5\n";
        let rows = read_rows(text, &["invoice_number", "amount"]).expect("reads");
        assert_eq!(rows.len(), 2);
        let (line, row) = &rows[1];
        let row = row.as_ref().expect("row");
        assert_eq!((*line, row.get("invoice_number")), (4, Some("INV-000002")));
        assert_eq!(
            row.required("reference"),
            Err("reference: missing".to_owned())
        );
        assert!(read_rows("amount\n1\n", &["invoice_number", "amount"]).is_err());
        assert!(read_rows("", &["amount"]).is_err());
    }
}
