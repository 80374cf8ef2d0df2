CREATE TABLE t70 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t69(id), created timestamptz DEFAULT now());
CREATE INDEX t70_name ON t70 (name);
CREATE TABLE t71 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t70(id), created timestamptz DEFAULT now());
CREATE INDEX t71_name ON t71 (name);
