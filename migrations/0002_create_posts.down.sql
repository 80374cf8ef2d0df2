DROP INDEX posts_by_user;
DROP TABLE posts;
