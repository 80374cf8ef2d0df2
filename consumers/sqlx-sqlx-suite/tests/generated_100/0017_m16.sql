CREATE TABLE t32 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t31(id), grand_id INTEGER REFERENCES t28(id));
CREATE INDEX t32_label ON t32(label);
CREATE INDEX t32_qty ON t32(qty, price);
INSERT INTO t32 (id, code, label, state, parent_id) VALUES (1, 'c32-1', 'l1', 1, 1);
INSERT INTO t32 (id, code, label, state, parent_id) VALUES (2, 'c32-2', 'l2', 1, 2);
CREATE TABLE t33 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t32(id), grand_id INTEGER REFERENCES t29(id));
CREATE INDEX t33_label ON t33(label);
INSERT INTO t33 (id, code, label, state, parent_id) VALUES (1, 'c33-1', 'l1', 1, 1);
INSERT INTO t33 (id, code, label, state, parent_id) VALUES (2, 'c33-2', 'l2', 1, 2);
