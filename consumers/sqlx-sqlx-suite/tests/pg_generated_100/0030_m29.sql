CREATE TABLE t58 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t57(id), created timestamptz DEFAULT now());
CREATE INDEX t58_name ON t58 (name);
CREATE TABLE t59 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t58(id), created timestamptz DEFAULT now());
CREATE INDEX t59_name ON t59 (name);
