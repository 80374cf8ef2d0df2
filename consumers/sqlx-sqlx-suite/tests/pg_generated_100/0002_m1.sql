CREATE TABLE t2 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t1(id), created timestamptz DEFAULT now());
CREATE INDEX t2_name ON t2 (name);
CREATE TABLE t3 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t2(id), created timestamptz DEFAULT now());
CREATE INDEX t3_name ON t3 (name);
