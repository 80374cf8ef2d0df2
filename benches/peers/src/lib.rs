//! Benches only: see `benches/` and `Cargo.toml`.
