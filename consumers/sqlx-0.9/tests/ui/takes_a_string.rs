// A test whose argument is no database `#[migrate_once::sqlx_test]` gives.
#[migrate_once::sqlx_test]
async fn takes_a_string(name: String) {
    assert!(name.is_empty());
}

fn main() {}
