CREATE TABLE t92 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t91(id), created timestamptz DEFAULT now());
CREATE INDEX t92_name ON t92 (name);
CREATE TABLE t93 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t92(id), created timestamptz DEFAULT now());
CREATE INDEX t93_name ON t93 (name);
