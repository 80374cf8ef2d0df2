CREATE TABLE t22 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t21(id), created timestamptz DEFAULT now());
CREATE INDEX t22_name ON t22 (name);
CREATE TABLE t23 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t22(id), created timestamptz DEFAULT now());
CREATE INDEX t23_name ON t23 (name);
