CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada'), (2, 'grace@example.com', 'Grace');
