CREATE TABLE t64 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t63(id), grand_id INTEGER REFERENCES t60(id));
CREATE INDEX t64_label ON t64(label);
CREATE INDEX t64_qty ON t64(qty, price);
INSERT INTO t64 (id, code, label, state, parent_id) VALUES (1, 'c64-1', 'l1', 1, 1);
INSERT INTO t64 (id, code, label, state, parent_id) VALUES (2, 'c64-2', 'l2', 1, 2);
CREATE TABLE t65 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t64(id), grand_id INTEGER REFERENCES t61(id));
CREATE INDEX t65_label ON t65(label);
INSERT INTO t65 (id, code, label, state, parent_id) VALUES (1, 'c65-1', 'l1', 1, 1);
INSERT INTO t65 (id, code, label, state, parent_id) VALUES (2, 'c65-2', 'l2', 1, 2);
