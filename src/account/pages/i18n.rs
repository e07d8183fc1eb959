//! The cabinet's languages: Russian (the default), Kazakh and English.
//!
//! Every text a page shows comes from a message catalogue, one file per language
//! (`messages/ru.txt`, `kk.txt`, `en.txt`: `key = text` lines, `#` comments), compiled into the
//! binary with `include_str!` and parsed once. A test checks that the three files hold the same
//! keys and that every key the page code asks for exists, so a missing translation fails the
//! build's tests, not a customer's page. A key absent at run time shows as the key itself.
//!
//! The language of a request: the `lang` query parameter (which is then remembered in the
//! `ofd_lang` cookie), else that cookie, else the first of Accept-Language we speak, else
//! Russian. Numbers, money and dates are formatted per language here too: Russian and Kazakh
//! group thousands with a no-break space and use a decimal comma, English a comma and a point;
//! money is stored in minor units (kopecks, tiyn) and shown in roubles (₽) or tenge (₸).

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;

/// Name of the cookie remembering the chosen language.
pub const LANG_COOKIE: &str = "ofd_lang";

/// A language of the cabinet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// Русский.
    #[default]
    Ru,
    /// Қазақша.
    Kk,
    /// English.
    En,
}

impl Lang {
    /// Every language, in the order of the header's switch.
    pub const ALL: [Lang; 3] = [Lang::Ru, Lang::Kk, Lang::En];

    /// The language tag (`ru`, `kk`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::Kk => "kk",
            Lang::En => "en",
        }
    }

    /// The switch's label, in the language itself.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Ru => "Рус",
            Lang::Kk => "Қаз",
            Lang::En => "Eng",
        }
    }

    /// The language of a tag such as `kk`, `kk-KZ`, `EN-us` or `kz`.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ru" => Some(Lang::Ru),
            "kk" | "kz" => Some(Lang::Kk),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of a request: `query_lang` (the `lang` parameter), the cookie, then
    /// Accept-Language (by its q-values), then Russian.
    pub fn of_request(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(lang) = query_lang.and_then(Lang::parse) {
            return lang;
        }
        if let Some(lang) =
            super::super::auth::cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c))
        {
            return lang;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut ranked: Vec<(f32, Lang)> = accept
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let lang = Lang::parse(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|(_, lang)| *lang).unwrap_or_default()
    }

    /// The text of `key` in this language (`?` for a key the catalogue lacks; the tests
    /// make sure the pages ask for none).
    pub fn t(self, key: &str) -> &'static str {
        self.lookup(key).unwrap_or_else(|| {
            tracing::warn!(key, "message key missing from the catalogue");
            "?"
        })
    }

    /// The text of `key`, if the catalogue has it.
    pub fn lookup(self, key: &str) -> Option<&'static str> {
        catalogues()[self as usize].get(key).copied()
    }

    /// The text of `key` with `{}` replaced by `value`.
    pub fn t1(self, key: &str, value: impl std::fmt::Display) -> String {
        self.t(key).replacen("{}", &value.to_string(), 1)
    }

    fn separators(self) -> (&'static str, &'static str) {
        match self {
            Lang::Ru | Lang::Kk => ("\u{a0}", ","),
            Lang::En => (",", "."),
        }
    }

    /// A whole number with grouped thousands.
    pub fn number(self, value: i64) -> String {
        let (group, _) = self.separators();
        let digits = value.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push_str(group);
            }
            out.push(c);
        }
        if value < 0 {
            out.insert(0, '-');
        }
        out
    }

    /// An amount in minor units (kopecks or tiyn) as roubles or tenge with two decimals.
    pub fn money(self, minor: i64, currency: Currency) -> String {
        let (_, decimal) = self.separators();
        let sign = if minor < 0 { "-" } else { "" };
        let major = i64::try_from(minor.unsigned_abs() / 100).unwrap_or(i64::MAX);
        let cents = minor.unsigned_abs() % 100;
        format!(
            "{sign}{}{decimal}{cents:02}\u{a0}{}",
            self.number(major),
            currency.symbol()
        )
    }

    /// A moment (unix milliseconds) as a date and time in UTC.
    pub fn datetime(self, unix_ms: i64) -> String {
        let Some(at) = chrono::DateTime::from_timestamp_millis(unix_ms) else {
            return String::new();
        };
        match self {
            Lang::Ru | Lang::Kk => at.format("%d.%m.%Y %H:%M UTC").to_string(),
            Lang::En => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// The currency of an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Currency {
    /// Russian rouble (amounts in kopecks).
    Rub,
    /// Kazakh tenge (amounts in tiyn).
    Kzt,
}

impl Currency {
    fn symbol(self) -> &'static str {
        match self {
            Currency::Rub => "₽",
            Currency::Kzt => "₸",
        }
    }
}

const SOURCES: [&str; 3] = [
    include_str!("messages/ru.txt"),
    include_str!("messages/kk.txt"),
    include_str!("messages/en.txt"),
];

fn parse_catalogue(text: &'static str) -> HashMap<&'static str, &'static str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect()
}

fn catalogues() -> &'static [HashMap<&'static str, &'static str>; 3] {
    static CATALOGUES: OnceLock<[HashMap<&'static str, &'static str>; 3]> = OnceLock::new();
    CATALOGUES.get_or_init(|| SOURCES.map(parse_catalogue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(lang: Lang) -> BTreeSet<&'static str> {
        catalogues()[lang as usize].keys().copied().collect()
    }

    #[test]
    fn every_key_exists_in_every_language() {
        let ru = keys(Lang::Ru);
        for lang in [Lang::Kk, Lang::En] {
            let other = keys(lang);
            let missing: Vec<_> = ru.difference(&other).collect();
            let extra: Vec<_> = other.difference(&ru).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}: missing {missing:?}, not in ru {extra:?}",
                lang.code()
            );
        }
        for lang in Lang::ALL {
            for (key, text) in &catalogues()[lang as usize] {
                assert!(!text.is_empty(), "{}: {key} is empty", lang.code());
            }
        }
    }

    /// Every `.t("…")` / `.t1("…"` / `tr!("…")`-style key in the page code is in the catalogue.
    #[test]
    fn every_key_used_by_the_pages_exists() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("auth_pages.rs"),
            include_str!("home.rs"),
            include_str!("registers.rs"),
            include_str!("staff.rs"),
            include_str!("keys.rs"),
            include_str!("audit.rs"),
            include_str!("alerts.rs"),
            include_str!("operator.rs"),
            include_str!("forms.rs"),
            // Documents and reports (web1).
            include_str!("documents.rs"),
            include_str!("reports.rs"),
            // Branch web2's pages.
            include_str!("parts.rs"),
            include_str!("pos.rs"),
            include_str!("register_more.rs"),
            include_str!("tax_apps.rs"),
            include_str!("money.rs"),
            include_str!("wired.rs"),
            include_str!("operator_more.rs"),
            include_str!("esign_login.rs"),
            include_str!("profile.rs"),
        ];
        let ru = keys(Lang::Ru);
        let mut used = 0;
        for source in sources {
            for marker in [".t(\"", ".t1(\""] {
                for piece in source.split(marker).skip(1) {
                    let key = piece.split('"').next().unwrap_or_default();
                    used += 1;
                    assert!(ru.contains(key), "key {key:?} is used but not in ru.txt");
                }
            }
        }
        assert!(used > 50, "found only {used} keys; the scan is broken");
    }

    #[test]
    fn languages_are_chosen_by_query_cookie_and_accept_language() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of_request(None, &headers), Lang::Ru);
        headers.insert(
            "accept-language",
            "de, en-GB;q=0.8, kk;q=0.9".parse().unwrap(),
        );
        assert_eq!(Lang::of_request(None, &headers), Lang::Kk);
        headers.insert("cookie", "ofd_lang=en".parse().unwrap());
        assert_eq!(Lang::of_request(None, &headers), Lang::En);
        assert_eq!(Lang::of_request(Some("ru"), &headers), Lang::Ru);
        assert_eq!(Lang::of_request(Some("xx"), &headers), Lang::En);
    }

    #[test]
    fn numbers_money_and_dates_per_language() {
        assert_eq!(Lang::Ru.number(1234567), "1\u{a0}234\u{a0}567");
        assert_eq!(Lang::En.number(-1234), "-1,234");
        assert_eq!(Lang::En.number(999), "999");
        assert_eq!(
            Lang::Ru.money(123456, Currency::Rub),
            "1\u{a0}234,56\u{a0}₽"
        );
        assert_eq!(Lang::Kk.money(5, Currency::Kzt), "0,05\u{a0}₸");
        assert_eq!(Lang::En.money(-100050, Currency::Kzt), "-1,000.50\u{a0}₸");
        let ms = 1_764_682_932_000; // 2025-12-02 13:42:12 UTC
        assert_eq!(Lang::Ru.datetime(ms), "02.12.2025 13:42 UTC");
        assert_eq!(Lang::En.datetime(ms), "2025-12-02 13:42 UTC");
    }
}
