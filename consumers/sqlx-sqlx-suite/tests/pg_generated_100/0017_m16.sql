CREATE TABLE t32 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t31(id), created timestamptz DEFAULT now());
CREATE INDEX t32_name ON t32 (name);
CREATE TABLE t33 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t32(id), created timestamptz DEFAULT now());
CREATE INDEX t33_name ON t33 (name);
