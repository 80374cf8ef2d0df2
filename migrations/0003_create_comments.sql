CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    body TEXT NOT NULL
);
CREATE INDEX comments_by_post ON comments(post_id);

-- Keep a per-post comment count; the trigger body has its own semicolons.
ALTER TABLE posts ADD COLUMN comment_count INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER comments_count_insert AFTER INSERT ON comments
BEGIN
    UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
END;
CREATE TRIGGER comments_count_delete AFTER DELETE ON comments
BEGIN
    UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
END;
