-- Exactly the rows 0004 inserted, children first; rows tests or later
-- migrations added stay.
DELETE FROM comments WHERE post_id = 1 AND author_id = 2 AND body = 'Brilliant; more please.';
DELETE FROM posts WHERE id IN (1, 2);
DELETE FROM users WHERE id IN (1, 2);
