//! Register-local times, as the documents and reports API gives them (`YYYY-MM-DD` or
//! `YYYY-MM-DDTHH:MM:SS`: the register's wall clock as printed on the receipt, without a zone),
//! formatted per language: `02.12.2026 13:42:12` in Russian and Kazakh, `2026-12-02 13:42:12`
//! in English. (Moments in UTC milliseconds are [`Lang::datetime`].) Text in neither form is
//! shown as it came.

use chrono::{NaiveDate, NaiveDateTime};

use super::i18n::{Currency, Lang};

impl Lang {
    /// A register-local date and time (or date) in this language's form.
    pub fn local_time(self, text: &str) -> String {
        let day_first = self != Lang::En;
        if let Ok(time) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
            let form = if day_first {
                "%d.%m.%Y %H:%M:%S"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            return time.format(form).to_string();
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let form = if day_first { "%d.%m.%Y" } else { "%Y-%m-%d" };
            return date.format(form).to_string();
        }
        text.to_owned()
    }

    /// A register-local date without its year (`02.12` / `12-02`), for chart axes.
    pub fn short_date(self, text: &str) -> String {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) if self == Lang::En => date.format("%m-%d").to_string(),
            Ok(date) => date.format("%d.%m").to_string(),
            Err(_) => text.to_owned(),
        }
    }
}

/// The currency of a document's dialect (`kz` → tenge, anything else roubles).
pub fn currency_of(dialect: &str) -> Currency {
    if dialect == "kz" {
        Currency::Kzt
    } else {
        Currency::Rub
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_follow_the_language() {
        assert_eq!(
            Lang::Ru.local_time("2026-12-02T09:05:07"),
            "02.12.2026 09:05:07"
        );
        assert_eq!(Lang::Kk.local_time("2026-12-02"), "02.12.2026");
        assert_eq!(
            Lang::En.local_time("2026-12-02T09:05:07"),
            "2026-12-02 09:05:07"
        );
        assert_eq!(Lang::En.local_time("soon"), "soon");
        assert_eq!(Lang::Ru.short_date("2026-12-02"), "02.12");
        assert_eq!(Lang::En.short_date("2026-12-02"), "12-02");
        assert_eq!(currency_of("kz"), Currency::Kzt);
        assert_eq!(currency_of("ru"), Currency::Rub);
    }
}
