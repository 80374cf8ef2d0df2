CREATE TABLE t94 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t93(id), grand_id INTEGER REFERENCES t90(id));
CREATE INDEX t94_label ON t94(label);
CREATE INDEX t94_qty ON t94(qty, price);
INSERT INTO t94 (id, code, label, state, parent_id) VALUES (1, 'c94-1', 'l1', 1, 1);
INSERT INTO t94 (id, code, label, state, parent_id) VALUES (2, 'c94-2', 'l2', 1, 2);
CREATE TABLE t95 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t94(id), grand_id INTEGER REFERENCES t91(id));
CREATE INDEX t95_label ON t95(label);
INSERT INTO t95 (id, code, label, state, parent_id) VALUES (1, 'c95-1', 'l1', 1, 1);
INSERT INTO t95 (id, code, label, state, parent_id) VALUES (2, 'c95-2', 'l2', 1, 2);
