CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);
INSERT INTO users (email) VALUES ('ada@example.com'), ('bob@example.com');
