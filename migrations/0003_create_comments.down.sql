-- The triggers refer to posts.comment_count: they go before the column can.
DROP TRIGGER comments_count_delete;
DROP TRIGGER comments_count_insert;
ALTER TABLE posts DROP COLUMN comment_count;
DROP INDEX comments_by_post;
DROP TABLE comments;
