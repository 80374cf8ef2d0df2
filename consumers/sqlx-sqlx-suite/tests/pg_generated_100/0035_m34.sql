CREATE TABLE t68 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t67(id), created timestamptz DEFAULT now());
CREATE INDEX t68_name ON t68 (name);
CREATE TABLE t69 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t68(id), created timestamptz DEFAULT now());
CREATE INDEX t69_name ON t69 (name);
