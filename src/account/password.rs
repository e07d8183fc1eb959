//! Passwords and the other secrets of the cabinet: the password policy, argon2id hashing with the
//! parameters stated here, and the random tokens handed out for sessions and one-time links
//! (stored only as SHA-256, like API keys).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::store::api_keys::key_hash;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in characters (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// argon2id memory cost: 19 MiB (in KiB), with [`ARGON2_ITERATIONS`] passes over it and
/// [`ARGON2_LANES`] lane: the first of OWASP's recommended argon2id configurations. Each hash
/// or check costs about 20–30 ms on one core of this project's 2-core machine.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ARGON2_ITERATIONS: u32 = 2;
/// argon2id lanes (parallelism).
pub const ARGON2_LANES: u32 = 1;

/// Passwords refused whatever their length: the most common ones of 10 characters and more in
/// public breach lists (compared without case).
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "0123456789",
    "0987654321",
    "1111111111",
    "0000000000",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "abcdefghij",
    "abc1234567",
    "1234qwerty",
    "123456789a",
    "a123456789",
    "123123123123",
    "1234512345",
    "12345678910",
    "9876543210",
    "letmein123",
    "welcome123",
    "admin12345",
    "administrator",
    "changeme123",
    "zaq12wsxcde",
    "qazwsxedcrfv",
    "asdfghjkl1",
    "йцукенгшщз",
    "пароль1234",
    "пароль12345",
];

/// Why a new password is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// Fewer than [`MIN_PASSWORD_CHARS`] or more than [`MAX_PASSWORD_CHARS`] characters.
    #[error("password: must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Length,
    /// On the list of common passwords.
    #[error("password: too common; choose another")]
    Common,
    /// The repeated password differs.
    #[error("password_repeat: does not match password")]
    Mismatch,
}

/// Check a new password and its repetition against the policy.
pub fn check_new_password(password: &str, repeat: &str) -> Result<(), PasswordPolicyError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(PasswordPolicyError::Length);
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(PasswordPolicyError::Common);
    }
    if password != repeat {
        return Err(PasswordPolicyError::Mismatch);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashing with valid parameters")
        .to_string()
}

/// Whether `password` matches the PHC string `stored`. With no stored hash (an unknown login, a
/// user without a password) a fixed hash is checked instead, so that every answer costs the same
/// time and a missing account cannot be told from a wrong password by the clock.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (
            DUMMY
                .get_or_init(|| hash_password("not a password anyone has"))
                .as_str(),
            false,
        ),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// A new random secret for a session or a one-time link: 32 bytes as 64 hex digits.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The stored form of a session id or one-time token.
pub fn token_hash(token: &str) -> String {
    key_hash(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_common_and_mismatched_passwords() {
        assert_eq!(
            check_new_password("short", "short"),
            Err(PasswordPolicyError::Length)
        );
        assert_eq!(
            check_new_password("Password123", "Password123"),
            Err(PasswordPolicyError::Common)
        );
        assert_eq!(
            check_new_password("correct horse battery", "correct horse batter"),
            Err(PasswordPolicyError::Mismatch)
        );
        assert_eq!(
            check_new_password("correct horse battery", "correct horse battery"),
            Ok(())
        );
        // Ten characters of Cyrillic are ten characters, not twenty bytes.
        assert_eq!(
            check_new_password("пароль", "пароль"),
            Err(PasswordPolicyError::Length)
        );
    }

    #[test]
    fn argon2id_with_the_stated_parameters_round_trips() {
        let phc = hash_password("correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery", Some(&phc)));
        assert!(!verify_password("correct horse batterY", Some(&phc)));
        assert!(!verify_password("correct horse battery", None));
        assert_ne!(phc, hash_password("correct horse battery"), "salted");
    }
}
