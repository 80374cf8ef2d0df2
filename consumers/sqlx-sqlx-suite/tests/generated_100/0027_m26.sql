CREATE TABLE t52 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t51(id), grand_id INTEGER REFERENCES t48(id));
CREATE INDEX t52_label ON t52(label);
CREATE INDEX t52_qty ON t52(qty, price);
INSERT INTO t52 (id, code, label, state, parent_id) VALUES (1, 'c52-1', 'l1', 1, 1);
INSERT INTO t52 (id, code, label, state, parent_id) VALUES (2, 'c52-2', 'l2', 1, 2);
CREATE TABLE t53 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t52(id), grand_id INTEGER REFERENCES t49(id));
CREATE INDEX t53_label ON t53(label);
INSERT INTO t53 (id, code, label, state, parent_id) VALUES (1, 'c53-1', 'l1', 1, 1);
INSERT INTO t53 (id, code, label, state, parent_id) VALUES (2, 'c53-2', 'l2', 1, 2);
