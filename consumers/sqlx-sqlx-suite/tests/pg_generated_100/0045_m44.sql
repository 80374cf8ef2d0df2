CREATE TABLE t88 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t87(id), created timestamptz DEFAULT now());
CREATE INDEX t88_name ON t88 (name);
CREATE TABLE t89 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t88(id), created timestamptz DEFAULT now());
CREATE INDEX t89_name ON t89 (name);
