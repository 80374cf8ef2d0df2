CREATE TABLE t0 (id bigserial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());
CREATE INDEX t0_name ON t0 (name);
CREATE TABLE t1 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t0(id), created timestamptz DEFAULT now());
CREATE INDEX t1_name ON t1 (name);
INSERT INTO t0 (name) VALUES ('a'), ('b');
