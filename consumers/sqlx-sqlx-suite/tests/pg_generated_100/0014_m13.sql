CREATE TABLE t26 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t25(id), created timestamptz DEFAULT now());
CREATE INDEX t26_name ON t26 (name);
CREATE TABLE t27 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t26(id), created timestamptz DEFAULT now());
CREATE INDEX t27_name ON t27 (name);
