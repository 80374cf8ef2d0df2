CREATE TABLE t46 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t45(id), created timestamptz DEFAULT now());
CREATE INDEX t46_name ON t46 (name);
CREATE TABLE t47 (id bigserial PRIMARY KEY, name text NOT NULL, ref bigint REFERENCES t46(id), created timestamptz DEFAULT now());
CREATE INDEX t47_name ON t47 (name);
