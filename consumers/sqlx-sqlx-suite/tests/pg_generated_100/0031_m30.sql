CREATE TABLE t60 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t59(id), created timestamptz DEFAULT now());
CREATE INDEX t60_name ON t60 (name);
CREATE TABLE t61 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t60(id), created timestamptz DEFAULT now());
CREATE INDEX t61_name ON t61 (name);
