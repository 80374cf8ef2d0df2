CREATE TABLE t42 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t41(id), created timestamptz DEFAULT now());
CREATE INDEX t42_name ON t42 (name);
CREATE TABLE t43 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t42(id), created timestamptz DEFAULT now());
CREATE INDEX t43_name ON t43 (name);
