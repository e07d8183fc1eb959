//! How every role is configured: one TOML file (`--config`), `OFD_*` environment variables and
//! command-line flags, with one declaration per option.
//!
//! Precedence, highest first: flag, environment variable, file, built-in default. Each option is
//! one `Option<…>` field of a struct that derives both [`clap::Args`] (flag and env var, read
//! together by clap) and [`serde::Deserialize`] (its key in the file). The field name is the file
//! key and clap's argument id, so the two can never drift apart. (Where two tables of one command
//! share a key, such as `listen`, the argument id is `<table>.<key>`; the key is what follows the
//! dot.) A role reads its table of the
//! file into the same struct with [`ConfigFile::table`], lays the command line over it with
//! [`Layer::over`], and fills what is still empty from its defaults in its own `config.rs`.
//!
//! The file has one table per area: `[store]`, `[metrics]`, `[ingest]`, `[crypto]`, `[kz]`,
//! `[forward]`, `[account]`, `[tax_sink]`, `[project]` ([`TABLES`]). Every role accepts the whole file and
//! checks the tables it reads key by key: an unknown table anywhere, or an unknown key in a table
//! the role reads, is an error naming it, so a typo never falls back to a default silently.
//!
//! This module is a leaf: it knows no role, only the names of the tables.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// The tables a configuration file may hold, in the order `deploy/ofd.toml` shows them.
pub const TABLES: [&str; 9] = [
    "store", "metrics", "ingest", "crypto", "kz", "forward", "account", "tax_sink", "project",
];

/// The `--config` option, shared by every role and tool that reads the file.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ConfigArg {
    /// TOML configuration file (see deploy/ofd.toml). Flags and env vars override it.
    #[arg(long, env = "OFD_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Read the named file, or an empty one when no file was named.
    pub fn load(&self) -> Result<ConfigFile, ConfigError> {
        ConfigFile::load(self.config.as_deref())
    }
}

/// Why a configuration (file, environment or flags) was refused. Every variant names the table,
/// key or option at fault. Secret options are never quoted: they accept any string, so no value
/// of theirs is ever refused with its text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {}: {source}", path.display())]
    Read {
        /// The file named by `--config`.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {}: {source}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and why parsing stopped.
        source: Box<toml::de::Error>,
    },
    /// A top-level name that is not one of [`TABLES`], or one of them that is not a table.
    #[error("config file {}: [{table}] is not a known table (known: {})", path.display(), TABLES.join(", "))]
    UnknownTable {
        /// The file.
        path: PathBuf,
        /// The name found.
        table: String,
    },
    /// A key the table does not have.
    #[error("config file {}: [{table}] has no key `{key}`", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key found.
        key: String,
    },
    /// A key whose value has the wrong type or shape.
    #[error("config file {}: [{table}] {key}: {message}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// What was expected.
        message: String,
    },
    /// An environment variable that does not parse (read without flags, as `ofd all` reads the
    /// other roles' variables).
    #[error("environment: {0}")]
    Environment(String),
    /// A value, from wherever it came, that the role cannot run with.
    #[error("{field}: {reason}")]
    Invalid {
        /// The option as it is named in the file, `table.key`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// Shorthand for [`ConfigError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// `Err(Invalid { field, reason() })` unless `ok`: the validation step of every role's
/// `resolve`.
pub fn ensure(
    ok: bool,
    field: &'static str,
    reason: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(field, reason()))
    }
}

/// Layering of one options struct over another: what this layer leaves empty, the lower one
/// fills. Implemented for `Option` and, with [`layer!`](crate::layer), for options structs.
pub trait Layer {
    /// `self` where it has a value, else `lower`.
    fn over(self, lower: Self) -> Self;
}

impl<T> Layer for Option<T> {
    fn over(self, lower: Self) -> Self {
        self.or(lower)
    }
}

/// Implement [`Layer`] for an options struct field by field. The struct literal names every
/// field, so a field added to the struct and forgotten here does not compile.
#[macro_export]
macro_rules! layer {
    ($name:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::config_file::Layer for $name {
            fn over(self, lower: Self) -> Self {
                $name {
                    $($field: $crate::config_file::Layer::over(self.$field, lower.$field),)+
                }
            }
        }
    };
}

/// A parsed configuration file (or the empty one).
#[derive(Debug, Default)]
pub struct ConfigFile {
    path: PathBuf,
    tables: toml::Table,
}

impl ConfigFile {
    /// Read and parse `path`; `None` gives the empty file. Unknown tables are refused here.
    pub fn load(path: Option<&Path>) -> Result<ConfigFile, ConfigError> {
        let Some(path) = path else {
            return Ok(ConfigFile::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Parse `text` as the content of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let tables: toml::Table = toml::from_str(text).map_err(|source| ConfigError::Syntax {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        for (name, value) in &tables {
            if !TABLES.contains(&name.as_str()) || !value.is_table() {
                return Err(ConfigError::UnknownTable {
                    path: path.to_owned(),
                    table: name.clone(),
                });
            }
        }
        Ok(ConfigFile {
            path: path.to_owned(),
            tables,
        })
    }

    /// The table `name` as `T` (all empty when the file has no such table). Every key must be
    /// one of `T`'s options, and a value that does not fit is reported with its key.
    pub fn table<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: clap::Args + DeserializeOwned + Default,
    {
        debug_assert!(TABLES.contains(&name), "{name} is not in TABLES");
        let Some(toml::Value::Table(table)) = self.tables.get(name) else {
            return Ok(T::default());
        };
        let known = keys_of::<T>();
        if let Some(key) = table.keys().find(|key| !known.contains(key)) {
            return Err(ConfigError::UnknownKey {
                path: self.path.clone(),
                table: name.to_owned(),
                key: key.clone(),
            });
        }
        toml::Value::Table(table.clone())
            .try_into::<T>()
            .map_err(|whole| {
                // Name the key: try each one alone; the first that fails is at fault.
                let culprit = table.iter().find_map(|(key, value)| {
                    let mut single = toml::Table::new();
                    single.insert(key.clone(), value.clone());
                    toml::Value::Table(single)
                        .try_into::<T>()
                        .err()
                        .map(|e| (key.clone(), e))
                });
                let (key, error) = culprit.unwrap_or_else(|| ("?".to_owned(), whole));
                ConfigError::BadValue {
                    path: self.path.clone(),
                    table: name.to_owned(),
                    key,
                    message: error.message().trim().to_owned(),
                }
            })
    }
}

/// The file keys of `T`: clap's argument ids, which are its field names, less any `<table>.`
/// prefix.
pub fn keys_of<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("keys"))
        .get_arguments()
        .map(|arg| {
            let id = arg.get_id().as_str();
            id.rsplit_once('.').map_or(id, |(_, key)| key).to_owned()
        })
        .collect()
}

/// `T` as its environment variables alone set it (no flags): how `ofd all` reads the variables
/// of the roles whose flags it does not offer.
pub fn from_env<T>() -> Result<T, ConfigError>
where
    T: clap::Args + clap::FromArgMatches,
{
    let command = T::augment_args(clap::Command::new("env").no_binary_name(true));
    let matches = command
        .try_get_matches_from(std::iter::empty::<String>())
        .map_err(|e| ConfigError::Environment(first_line(&e.to_string())))?;
    T::from_arg_matches(&matches).map_err(|e| ConfigError::Environment(first_line(&e.to_string())))
}

/// Test helper: every option of `T` (every clap id) is a field serde knows, so no key that
/// [`ConfigFile::table`] lets through is dropped by deserialisation.
#[cfg(test)]
pub(crate) fn assert_keys_are_fields<T>()
where
    T: clap::Args + DeserializeOwned + std::fmt::Debug,
{
    for key in keys_of::<T>() {
        let mut table = toml::Table::new();
        // No option is an array, so a known key must fail with a type error.
        table.insert(key.clone(), toml::Value::Array(Vec::new()));
        match toml::Value::Table(table).try_into::<T>() {
            Ok(value) => panic!("key {key} was ignored: {value:?}"),
            Err(e) => assert!(
                !e.to_string().contains("unknown field"),
                "key {key} is not a field: {e}"
            ),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Args, serde::Deserialize, Debug, Default, PartialEq)]
    struct Sample {
        /// A number.
        #[arg(long)]
        count: Option<u32>,
        /// A name.
        #[arg(id = "sample.name", long = "sample-name")]
        name: Option<String>,
    }
    crate::layer!(Sample { count, name });

    fn file(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("test.toml"), text)
    }

    #[test]
    fn keys_are_field_names_whatever_the_flag_is_called() {
        assert_eq!(keys_of::<Sample>(), ["count", "name"]);
        assert_keys_are_fields::<Sample>();
    }

    #[test]
    fn a_table_reads_into_the_options_struct_and_layers_under_flags() {
        let file = file("[forward]\ncount = 3\nname = \"file\"\n").expect("parses");
        let from_file: Sample = file.table("forward").expect("valid table");
        let flags = Sample {
            name: Some("flag".into()),
            ..Sample::default()
        };
        assert_eq!(
            flags.over(from_file),
            Sample {
                count: Some(3),
                name: Some("flag".into())
            }
        );
        let absent: Sample = file.table("account").expect("absent table");
        assert_eq!(absent, Sample::default());
    }

    #[test]
    fn unknown_tables_keys_and_bad_values_are_named() {
        let error = file("[forwrd]\ncount = 1\n").expect_err("unknown table");
        assert!(
            matches!(&error, ConfigError::UnknownTable { table, .. } if table == "forwrd"),
            "{error}"
        );
        let error = file("forward = 3\n").expect_err("not a table");
        assert!(matches!(error, ConfigError::UnknownTable { .. }), "{error}");

        let parsed = file("[forward]\ncont = 1\n").expect("parses");
        let error = parsed.table::<Sample>("forward").expect_err("unknown key");
        assert!(
            matches!(&error, ConfigError::UnknownKey { table, key, .. }
                if table == "forward" && key == "cont"),
            "{error}"
        );

        let parsed = file("[forward]\nname = \"ok\"\ncount = -1\n").expect("parses");
        let error = parsed.table::<Sample>("forward").expect_err("bad value");
        assert!(
            matches!(&error, ConfigError::BadValue { table, key, .. }
                if table == "forward" && key == "count"),
            "{error}"
        );
        assert!(error.to_string().contains("[forward] count"), "{error}");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let error = ConfigFile::load(Some(Path::new("/nonexistent/ofd.toml"))).expect_err("absent");
        assert!(matches!(error, ConfigError::Read { .. }));
        assert!(error.to_string().contains("/nonexistent/ofd.toml"));
    }
}
