CREATE TABLE t18 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t17(id), created timestamptz DEFAULT now());
CREATE INDEX t18_name ON t18 (name);
CREATE TABLE t19 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t18(id), created timestamptz DEFAULT now());
CREATE INDEX t19_name ON t19 (name);
