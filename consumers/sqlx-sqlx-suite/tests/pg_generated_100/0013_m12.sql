CREATE TABLE t24 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t23(id), created timestamptz DEFAULT now());
CREATE INDEX t24_name ON t24 (name);
CREATE TABLE t25 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t24(id), created timestamptz DEFAULT now());
CREATE INDEX t25_name ON t25 (name);
