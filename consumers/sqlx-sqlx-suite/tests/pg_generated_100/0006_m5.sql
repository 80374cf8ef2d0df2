CREATE TABLE t10 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t9(id), created timestamptz DEFAULT now());
CREATE INDEX t10_name ON t10 (name);
CREATE TABLE t11 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t10(id), created timestamptz DEFAULT now());
CREATE INDEX t11_name ON t11 (name);
