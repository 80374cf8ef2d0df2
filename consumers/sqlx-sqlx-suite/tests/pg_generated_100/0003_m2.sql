CREATE TABLE t4 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t3(id), created timestamptz DEFAULT now());
CREATE INDEX t4_name ON t4 (name);
CREATE TABLE t5 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t4(id), created timestamptz DEFAULT now());
CREATE INDEX t5_name ON t5 (name);
