CREATE TABLE t8 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t7(id), created timestamptz DEFAULT now());
CREATE INDEX t8_name ON t8 (name);
CREATE TABLE t9 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t8(id), created timestamptz DEFAULT now());
CREATE INDEX t9_name ON t9 (name);
