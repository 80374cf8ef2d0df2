CREATE TABLE t44 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t43(id), grand_id INTEGER REFERENCES t40(id));
CREATE INDEX t44_label ON t44(label);
CREATE INDEX t44_qty ON t44(qty, price);
INSERT INTO t44 (id, code, label, state, parent_id) VALUES (1, 'c44-1', 'l1', 1, 1);
INSERT INTO t44 (id, code, label, state, parent_id) VALUES (2, 'c44-2', 'l2', 1, 2);
CREATE TABLE t45 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t44(id), grand_id INTEGER REFERENCES t41(id));
CREATE INDEX t45_label ON t45(label);
INSERT INTO t45 (id, code, label, state, parent_id) VALUES (1, 'c45-1', 'l1', 1, 1);
INSERT INTO t45 (id, code, label, state, parent_id) VALUES (2, 'c45-2', 'l2', 1, 2);
