CREATE TABLE t38 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t37(id), created timestamptz DEFAULT now());
CREATE INDEX t38_name ON t38 (name);
CREATE TABLE t39 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t38(id), created timestamptz DEFAULT now());
CREATE INDEX t39_name ON t39 (name);
