//! [`Secret`]: a configuration string that must never be printed.
//!
//! Settings structs derive `Debug` so they can be logged and compared in tests; a field holding a
//! key or password would then be printed with them. Wrapping it in [`Secret`] makes `Debug`
//! print `"<redacted>"` instead, so the structs keep their derives and no hand-written `Debug`
//! has to remember every secret field. Reading the value takes an explicit
//! [`Secret::expose`], which is easy to find in review. (This is about printing only; the
//! value is an ordinary `String` in memory.)

use std::convert::Infallible;
use std::str::FromStr;

/// A secret string: deserialises and parses like a `String`, prints as `"<redacted>"`.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Lets clap take a `Secret` from a flag or an environment variable.
impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Settings {
        name: String,
        key: Secret,
    }

    #[test]
    fn deserialises_as_a_string_and_never_prints() {
        let settings: Settings =
            toml::from_str("name = \"lab\"\nkey = \"s3cr3t-value\"\n").expect("valid table");
        assert_eq!(
            (settings.name.as_str(), settings.key.expose()),
            ("lab", "s3cr3t-value")
        );
        let printed = format!("{settings:?} {settings:#?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("<redacted>") && printed.contains("lab"));
    }

    #[test]
    fn parses_from_a_flag() {
        #[derive(clap::Parser, Debug)]
        struct Args {
            #[arg(long)]
            key: Option<Secret>,
        }
        let args = <Args as clap::Parser>::try_parse_from(["prog", "--key", "from-flag-123"])
            .expect("parses");
        assert_eq!(args.key.as_ref().map(Secret::expose), Some("from-flag-123"));
        assert!(!format!("{args:?}").contains("from-flag-123"));
    }
}
