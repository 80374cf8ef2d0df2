CREATE TABLE t90 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t89(id), grand_id INTEGER REFERENCES t86(id));
CREATE INDEX t90_label ON t90(label);
CREATE INDEX t90_qty ON t90(qty, price);
INSERT INTO t90 (id, code, label, state, parent_id) VALUES (1, 'c90-1', 'l1', 1, 1);
INSERT INTO t90 (id, code, label, state, parent_id) VALUES (2, 'c90-2', 'l2', 1, 2);
CREATE TABLE t91 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t90(id), grand_id INTEGER REFERENCES t87(id));
CREATE INDEX t91_label ON t91(label);
INSERT INTO t91 (id, code, label, state, parent_id) VALUES (1, 'c91-1', 'l1', 1, 1);
INSERT INTO t91 (id, code, label, state, parent_id) VALUES (2, 'c91-2', 'l2', 1, 2);
