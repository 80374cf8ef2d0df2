SELECT 'it''s; fine'; SELECT x'3b';
 SELECT 1 /* unterminated ;