CREATE TABLE t76 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t75(id), created timestamptz DEFAULT now());
CREATE INDEX t76_name ON t76 (name);
CREATE TABLE t77 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t76(id), created timestamptz DEFAULT now());
CREATE INDEX t77_name ON t77 (name);
