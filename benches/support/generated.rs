//! The generated migration set every bench measures.

/// A set of `tables` tables in `tables / 2` migrations: typed columns, one or
/// two foreign keys, one or two indexes and two seed rows per table; every
/// 5th migration adds a column, every 10th a trigger.
pub fn generated_set(tables: usize) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    for m in 0..tables / 2 {
        let mut sql = String::new();
        for t in [2 * m, 2 * m + 1] {
            let mut cols = String::from(
                "id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, \
                 price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, \
                 created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            );
            if t > 0 {
                cols.push_str(&format!(", parent_id INTEGER REFERENCES t{}(id)", t - 1));
            }
            if t >= 4 {
                cols.push_str(&format!(", grand_id INTEGER REFERENCES t{}(id)", t - 4));
            }
            sql.push_str(&format!("CREATE TABLE t{t} ({cols});\n"));
            sql.push_str(&format!("CREATE INDEX t{t}_label ON t{t}(label);\n"));
            if t % 2 == 0 {
                sql.push_str(&format!("CREATE INDEX t{t}_qty ON t{t}(qty, price);\n"));
            }
            for r in 1..=2 {
                let parent = if t > 0 { ", parent_id" } else { "" };
                let pv = if t > 0 {
                    format!(", {r}")
                } else {
                    String::new()
                };
                sql.push_str(&format!(
                    "INSERT INTO t{t} (id, code, label, state{parent}) VALUES ({r}, 'c{t}-{r}', 'l{r}', 1{pv});\n"
                ));
            }
        }
        if (m + 1) % 5 == 0 {
            sql.push_str(&format!("ALTER TABLE t{} ADD COLUMN note TEXT;\n", 2 * m));
        }
        if (m + 1) % 10 == 0 {
            let t = 2 * m + 1;
            sql.push_str(&format!(
                "CREATE TRIGGER t{t}_touch AFTER UPDATE ON t{t} BEGIN UPDATE t{t} SET qty = qty + 1 WHERE id = NEW.id AND 0; END;\n"
            ));
        }
        out.push((m as i64 + 1, format!("m{m}"), sql));
    }
    out
}
