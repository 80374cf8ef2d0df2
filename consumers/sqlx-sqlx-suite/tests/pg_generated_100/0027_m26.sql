CREATE TABLE t52 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t51(id), created timestamptz DEFAULT now());
CREATE INDEX t52_name ON t52 (name);
CREATE TABLE t53 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t52(id), created timestamptz DEFAULT now());
CREATE INDEX t53_name ON t53 (name);
