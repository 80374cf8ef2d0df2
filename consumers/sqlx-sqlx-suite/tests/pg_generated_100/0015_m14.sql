CREATE TABLE t28 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t27(id), created timestamptz DEFAULT now());
CREATE INDEX t28_name ON t28 (name);
CREATE TABLE t29 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t28(id), created timestamptz DEFAULT now());
CREATE INDEX t29_name ON t29 (name);
