CREATE TABLE t80 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t79(id), created timestamptz DEFAULT now());
CREATE INDEX t80_name ON t80 (name);
CREATE TABLE t81 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t80(id), created timestamptz DEFAULT now());
CREATE INDEX t81_name ON t81 (name);
