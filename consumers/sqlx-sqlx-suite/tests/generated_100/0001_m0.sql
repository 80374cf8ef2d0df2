CREATE TABLE t0 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
CREATE INDEX t0_label ON t0(label);
CREATE INDEX t0_qty ON t0(qty, price);
INSERT INTO t0 (id, code, label, state) VALUES (1, 'c0-1', 'l1', 1);
INSERT INTO t0 (id, code, label, state) VALUES (2, 'c0-2', 'l2', 1);
CREATE TABLE t1 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t0(id));
CREATE INDEX t1_label ON t1(label);
INSERT INTO t1 (id, code, label, state, parent_id) VALUES (1, 'c1-1', 'l1', 1, 1);
INSERT INTO t1 (id, code, label, state, parent_id) VALUES (2, 'c1-2', 'l2', 1, 2);
