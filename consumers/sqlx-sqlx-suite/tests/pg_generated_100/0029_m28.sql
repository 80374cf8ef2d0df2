CREATE TABLE t56 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t55(id), created timestamptz DEFAULT now());
CREATE INDEX t56_name ON t56 (name);
CREATE TABLE t57 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t56(id), created timestamptz DEFAULT now());
CREATE INDEX t57_name ON t57 (name);
