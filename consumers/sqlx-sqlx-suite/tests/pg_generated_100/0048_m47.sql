CREATE TABLE t94 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t93(id), created timestamptz DEFAULT now());
CREATE INDEX t94_name ON t94 (name);
CREATE TABLE t95 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t94(id), created timestamptz DEFAULT now());
CREATE INDEX t95_name ON t95 (name);
