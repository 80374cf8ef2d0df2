CREATE TABLE t86 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t85(id), created timestamptz DEFAULT now());
CREATE INDEX t86_name ON t86 (name);
CREATE TABLE t87 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t86(id), created timestamptz DEFAULT now());
CREATE INDEX t87_name ON t87 (name);
