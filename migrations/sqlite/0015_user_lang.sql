-- The cabinet language a user chose (ru, kk, en); NULL: the organisation's country decides.
ALTER TABLE users ADD COLUMN lang TEXT;
