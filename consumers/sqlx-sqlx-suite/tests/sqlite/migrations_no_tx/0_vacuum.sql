-- no-transaction

VACUUM;
