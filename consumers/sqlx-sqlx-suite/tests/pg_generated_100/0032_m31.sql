CREATE TABLE t62 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t61(id), created timestamptz DEFAULT now());
CREATE INDEX t62_name ON t62 (name);
CREATE TABLE t63 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t62(id), created timestamptz DEFAULT now());
CREATE INDEX t63_name ON t63 (name);
