CREATE TABLE t72 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t71(id), created timestamptz DEFAULT now());
CREATE INDEX t72_name ON t72 (name);
CREATE TABLE t73 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t72(id), created timestamptz DEFAULT now());
CREATE INDEX t73_name ON t73 (name);
