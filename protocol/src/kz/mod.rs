//! KZ dialect (placeholder until the codec lands).
