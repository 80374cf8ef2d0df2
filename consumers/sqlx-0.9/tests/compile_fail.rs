//! What `#[migrate_once::sqlx_test]` refuses, and the message it gives: a
//! signature it does not take is a compile error naming the ones it does.

#[test]
fn unsupported_signatures_are_compile_errors_naming_the_supported_ones() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
