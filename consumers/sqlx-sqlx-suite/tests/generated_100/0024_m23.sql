CREATE TABLE t46 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t45(id), grand_id INTEGER REFERENCES t42(id));
CREATE INDEX t46_label ON t46(label);
CREATE INDEX t46_qty ON t46(qty, price);
INSERT INTO t46 (id, code, label, state, parent_id) VALUES (1, 'c46-1', 'l1', 1, 1);
INSERT INTO t46 (id, code, label, state, parent_id) VALUES (2, 'c46-2', 'l2', 1, 2);
CREATE TABLE t47 (id INTEGER PRIMARY KEY, code TEXT UNIQUE, label TEXT, qty INTEGER DEFAULT 0, price REAL, state INTEGER CHECK (state BETWEEN 0 AND 9), payload BLOB, created TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), parent_id INTEGER REFERENCES t46(id), grand_id INTEGER REFERENCES t43(id));
CREATE INDEX t47_label ON t47(label);
INSERT INTO t47 (id, code, label, state, parent_id) VALUES (1, 'c47-1', 'l1', 1, 1);
INSERT INTO t47 (id, code, label, state, parent_id) VALUES (2, 'c47-2', 'l2', 1, 2);
