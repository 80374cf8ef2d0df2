//! A migration written in Rust, as refinery allows: `migration()` returns
//! the SQL, here built from a list the application also uses.

pub fn migration() -> String {
    let mut sql = String::from(
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n",
    );
    for tag in ["rust", "sqlite", "testing"] {
        sql.push_str(&format!("INSERT INTO tags (name) VALUES ('{tag}');\n"));
    }
    sql
}
