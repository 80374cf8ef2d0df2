//! Nothing: the suite is in `tests/` (see README.md).
