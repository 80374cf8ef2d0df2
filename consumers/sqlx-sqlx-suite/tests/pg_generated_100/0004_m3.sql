CREATE TABLE t6 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t5(id), created timestamptz DEFAULT now());
CREATE INDEX t6_name ON t6 (name);
CREATE TABLE t7 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t6(id), created timestamptz DEFAULT now());
CREATE INDEX t7_name ON t7 (name);
