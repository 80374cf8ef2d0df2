CREATE TABLE t36 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t35(id), created timestamptz DEFAULT now());
CREATE INDEX t36_name ON t36 (name);
CREATE TABLE t37 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t36(id), created timestamptz DEFAULT now());
CREATE INDEX t37_name ON t37 (name);
