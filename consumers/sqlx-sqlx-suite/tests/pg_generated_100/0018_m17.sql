CREATE TABLE t34 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t33(id), created timestamptz DEFAULT now());
CREATE INDEX t34_name ON t34 (name);
CREATE TABLE t35 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t34(id), created timestamptz DEFAULT now());
CREATE INDEX t35_name ON t35 (name);
