CREATE TABLE t90 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t89(id), created timestamptz DEFAULT now());
CREATE INDEX t90_name ON t90 (name);
CREATE TABLE t91 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t90(id), created timestamptz DEFAULT now());
CREATE INDEX t91_name ON t91 (name);
