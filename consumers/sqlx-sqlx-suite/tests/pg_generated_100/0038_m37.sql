CREATE TABLE t74 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t73(id), created timestamptz DEFAULT now());
CREATE INDEX t74_name ON t74 (name);
CREATE TABLE t75 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t74(id), created timestamptz DEFAULT now());
CREATE INDEX t75_name ON t75 (name);
