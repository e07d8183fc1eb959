//! The one way a URL reaches a log line or an error message: without its user info (user name
//! and password) and with every query value replaced, so that a sink's `?token=…`, a crypto
//! unit's `https://user:password@…` or a database password never reaches a log. Scheme, host,
//! port, path and query keys stay, which is what an operator needs to recognise the URL.
//! Text that does not parse as a URL is not echoed at all.

/// What replaces a user name, a password or a query value.
pub const REDACTED: &str = "***";

/// `raw` with user info and query values redacted (see the module header).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => redacted(&url),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// `url` with user info and query values redacted.
pub fn redacted(url: &url::Url) -> String {
    let mut url = url.clone();
    if !url.username().is_empty() {
        let _ = url.set_username(REDACTED);
    }
    if url.password().is_some() {
        let _ = url.set_password(Some(REDACTED));
    }
    if url.query().is_some() {
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut pairs = url.query_pairs_mut();
        pairs.clear();
        for key in &keys {
            pairs.append_pair(key, REDACTED);
        }
        drop(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_and_query_values_are_redacted_and_the_rest_kept() {
        let shown = redact_url("https://sink:s3cret@tax.example:8443/batches?token=t0ken&v=2");
        assert_eq!(
            shown,
            "https://***:***@tax.example:8443/batches?token=***&v=***"
        );
        assert_eq!(
            redact_url("postgres://ofd:pw@db/ofd"),
            "postgres://***:***@db/ofd"
        );
        assert_eq!(redact_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
        assert_eq!(redact_url("not a url with pw"), "<unparsable URL>");
    }
}
