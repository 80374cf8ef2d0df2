CREATE TABLE t16 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t15(id), created timestamptz DEFAULT now());
CREATE INDEX t16_name ON t16 (name);
CREATE TABLE t17 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t16(id), created timestamptz DEFAULT now());
CREATE INDEX t17_name ON t17 (name);
