CREATE TABLE t42 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t41(id), grand_id INTEGER REFERENCES t38(id));
CREATE INDEX t42_label ON t42(label);
CREATE INDEX t42_qty ON t42(qty, price);
INSERT INTO t42 (id, code, label, state, parent_id) VALUES (1, 'c42-1', 'l1', 1, 1);
INSERT INTO t42 (id, code, label, state, parent_id) VALUES (2, 'c42-2', 'l2', 1, 2);
CREATE TABLE t43 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t42(id), grand_id INTEGER REFERENCES t39(id));
CREATE INDEX t43_label ON t43(label);
INSERT INTO t43 (id, code, label, state, parent_id) VALUES (1, 'c43-1', 'l1', 1, 1);
INSERT INTO t43 (id, code, label, state, parent_id) VALUES (2, 'c43-2', 'l2', 1, 2);
