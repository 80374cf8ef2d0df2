CREATE TABLE t82 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t81(id), created timestamptz DEFAULT now());
CREATE INDEX t82_name ON t82 (name);
CREATE TABLE t83 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t82(id), created timestamptz DEFAULT now());
CREATE INDEX t83_name ON t83 (name);
