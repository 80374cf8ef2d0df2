CREATE TABLE t76 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t75(id), grand_id INTEGER REFERENCES t72(id));
CREATE INDEX t76_label ON t76(label);
CREATE INDEX t76_qty ON t76(qty, price);
INSERT INTO t76 (id, code, label, state, parent_id) VALUES (1, 'c76-1', 'l1', 1, 1);
INSERT INTO t76 (id, code, label, state, parent_id) VALUES (2, 'c76-2', 'l2', 1, 2);
CREATE TABLE t77 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t76(id), grand_id INTEGER REFERENCES t73(id));
CREATE INDEX t77_label ON t77(label);
INSERT INTO t77 (id, code, label, state, parent_id) VALUES (1, 'c77-1', 'l1', 1, 1);
INSERT INTO t77 (id, code, label, state, parent_id) VALUES (2, 'c77-2', 'l2', 1, 2);
