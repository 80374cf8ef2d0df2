CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title TEXT NOT NULL
);
CREATE INDEX posts_by_user ON posts(user_id);
INSERT INTO posts (user_id, title) VALUES (1, 'Notes on the Analytical Engine');
