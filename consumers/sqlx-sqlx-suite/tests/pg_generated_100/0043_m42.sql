CREATE TABLE t84 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t83(id), created timestamptz DEFAULT now());
CREATE INDEX t84_name ON t84 (name);
CREATE TABLE t85 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t84(id), created timestamptz DEFAULT now());
CREATE INDEX t85_name ON t85 (name);
