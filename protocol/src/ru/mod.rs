//! RU dialect (placeholder until the codec lands).
