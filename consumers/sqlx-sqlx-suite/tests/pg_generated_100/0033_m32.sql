CREATE TABLE t64 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t63(id), created timestamptz DEFAULT now());
CREATE INDEX t64_name ON t64 (name);
CREATE TABLE t65 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t64(id), created timestamptz DEFAULT now());
CREATE INDEX t65_name ON t65 (name);
