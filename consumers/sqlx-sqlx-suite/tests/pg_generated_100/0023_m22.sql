CREATE TABLE t44 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t43(id), created timestamptz DEFAULT now());
CREATE INDEX t44_name ON t44 (name);
CREATE TABLE t45 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t44(id), created timestamptz DEFAULT now());
CREATE INDEX t45_name ON t45 (name);
