CREATE TABLE t86 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t85(id), grand_id INTEGER REFERENCES t82(id));
CREATE INDEX t86_label ON t86(label);
CREATE INDEX t86_qty ON t86(qty, price);
INSERT INTO t86 (id, code, label, state, parent_id) VALUES (1, 'c86-1', 'l1', 1, 1);
INSERT INTO t86 (id, code, label, state, parent_id) VALUES (2, 'c86-2', 'l2', 1, 2);
CREATE TABLE t87 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t86(id), grand_id INTEGER REFERENCES t83(id));
CREATE INDEX t87_label ON t87(label);
INSERT INTO t87 (id, code, label, state, parent_id) VALUES (1, 'c87-1', 'l1', 1, 1);
INSERT INTO t87 (id, code, label, state, parent_id) VALUES (2, 'c87-2', 'l2', 1, 2);
