CREATE TABLE t40 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t39(id), created timestamptz DEFAULT now());
CREATE INDEX t40_name ON t40 (name);
CREATE TABLE t41 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t40(id), created timestamptz DEFAULT now());
CREATE INDEX t41_name ON t41 (name);
