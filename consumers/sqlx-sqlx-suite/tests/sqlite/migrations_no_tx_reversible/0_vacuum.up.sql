-- no-transaction

PRAGMA JOURNAL_MODE = WAL;
