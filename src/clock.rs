//! The wall clock (placeholder until the shared clock module lands).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (UTC).
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Now, in whole seconds since the Unix epoch (UTC).
pub fn unix_seconds() -> i64 {
    unix_millis().div_euclid(1000)
}
