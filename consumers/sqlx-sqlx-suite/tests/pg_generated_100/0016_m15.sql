CREATE TABLE t30 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t29(id), created timestamptz DEFAULT now());
CREATE INDEX t30_name ON t30 (name);
CREATE TABLE t31 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t30(id), created timestamptz DEFAULT now());
CREATE INDEX t31_name ON t31 (name);
