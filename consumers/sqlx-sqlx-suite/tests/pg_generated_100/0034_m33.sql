CREATE TABLE t66 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t65(id), created timestamptz DEFAULT now());
CREATE INDEX t66_name ON t66 (name);
CREATE TABLE t67 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t66(id), created timestamptz DEFAULT now());
CREATE INDEX t67_name ON t67 (name);
