-- Seed rows every test can count on.
INSERT INTO users (id, email, display_name) VALUES
    (1, 'ada@example.com', 'Ada'),
    (2, 'grace@example.com', 'Grace');
INSERT INTO posts (id, user_id, title, published) VALUES
    (1, 1, 'Notes on the Analytical Engine', 1),
    (2, 2, 'Compilers', 0);
INSERT INTO comments (post_id, author_id, body) VALUES (1, 2, 'Brilliant; more please.');
