-- no-transaction

PRAGMA JOURNAL_MODE = DELETE;
