CREATE TABLE t96 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t95(id), created timestamptz DEFAULT now());
CREATE INDEX t96_name ON t96 (name);
CREATE TABLE t97 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t96(id), created timestamptz DEFAULT now());
CREATE INDEX t97_name ON t97 (name);
