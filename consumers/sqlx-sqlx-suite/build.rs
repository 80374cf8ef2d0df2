// `#[sqlx::test]` embeds the migrations at compile time: rebuild the tests
// when they change (what `sqlx migrate build-script` writes).
fn main() {
    for dir in ["tests/sqlite/migrations", "tests/generated_100"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
