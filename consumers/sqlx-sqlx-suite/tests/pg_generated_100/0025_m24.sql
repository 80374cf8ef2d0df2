CREATE TABLE t48 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t47(id), created timestamptz DEFAULT now());
CREATE INDEX t48_name ON t48 (name);
CREATE TABLE t49 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t48(id), created timestamptz DEFAULT now());
CREATE INDEX t49_name ON t49 (name);
