CREATE TABLE t98 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t97(id), created timestamptz DEFAULT now());
CREATE INDEX t98_name ON t98 (name);
CREATE TABLE t99 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t98(id), created timestamptz DEFAULT now());
CREATE INDEX t99_name ON t99 (name);
