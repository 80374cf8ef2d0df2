CREATE TABLE t78 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t77(id), created timestamptz DEFAULT now());
CREATE INDEX t78_name ON t78 (name);
CREATE TABLE t79 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t78(id), created timestamptz DEFAULT now());
CREATE INDEX t79_name ON t79 (name);
