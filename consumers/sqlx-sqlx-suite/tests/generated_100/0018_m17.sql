CREATE TABLE t34 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t33(id), grand_id INTEGER REFERENCES t30(id));
CREATE INDEX t34_label ON t34(label);
CREATE INDEX t34_qty ON t34(qty, price);
INSERT INTO t34 (id, code, label, state, parent_id) VALUES (1, 'c34-1', 'l1', 1, 1);
INSERT INTO t34 (id, code, label, state, parent_id) VALUES (2, 'c34-2', 'l2', 1, 2);
CREATE TABLE t35 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t34(id), grand_id INTEGER REFERENCES t31(id));
CREATE INDEX t35_label ON t35(label);
INSERT INTO t35 (id, code, label, state, parent_id) VALUES (1, 'c35-1', 'l1', 1, 1);
INSERT INTO t35 (id, code, label, state, parent_id) VALUES (2, 'c35-2', 'l2', 1, 2);
