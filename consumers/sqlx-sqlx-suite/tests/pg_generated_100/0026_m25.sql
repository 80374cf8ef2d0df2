CREATE TABLE t50 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t49(id), created timestamptz DEFAULT now());
CREATE INDEX t50_name ON t50 (name);
CREATE TABLE t51 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t50(id), created timestamptz DEFAULT now());
CREATE INDEX t51_name ON t51 (name);
