CREATE TABLE t12 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t11(id), created timestamptz DEFAULT now());
CREATE INDEX t12_name ON t12 (name);
CREATE TABLE t13 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t12(id), created timestamptz DEFAULT now());
CREATE INDEX t13_name ON t13 (name);
