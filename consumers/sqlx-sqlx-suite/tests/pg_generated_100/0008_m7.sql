CREATE TABLE t14 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t13(id), created timestamptz DEFAULT now());
CREATE INDEX t14_name ON t14 (name);
CREATE TABLE t15 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t14(id), created timestamptz DEFAULT now());
CREATE INDEX t15_name ON t15 (name);
