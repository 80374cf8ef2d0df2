CREATE TABLE t20 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t19(id), created timestamptz DEFAULT now());
CREATE INDEX t20_name ON t20 (name);
CREATE TABLE t21 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t20(id), created timestamptz DEFAULT now());
CREATE INDEX t21_name ON t21 (name);
