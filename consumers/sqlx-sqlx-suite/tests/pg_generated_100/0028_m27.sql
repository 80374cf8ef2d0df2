CREATE TABLE t54 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t53(id), created timestamptz DEFAULT now());
CREATE INDEX t54_name ON t54 (name);
CREATE TABLE t55 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t54(id), created timestamptz DEFAULT now());
CREATE INDEX t55_name ON t55 (name);
