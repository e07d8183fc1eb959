-- Cashiers (same meaning in both backends): which registers each cashier user works at, and the
-- cashier's code and PIN that a KZ register's AUTH command presents. The PIN is kept only as an
-- argon2id PHC string; the code is unique within the organisation.

CREATE TABLE cashier_registers (
    user_id      BIGINT NOT NULL REFERENCES users (id),
    register_id  BIGINT NOT NULL REFERENCES registers (id),
    PRIMARY KEY (user_id, register_id)
);
CREATE INDEX cashier_registers_register ON cashier_registers (register_id);

ALTER TABLE users ADD COLUMN kz_cashier_code TEXT;
ALTER TABLE users ADD COLUMN kz_pin_hash TEXT;
CREATE UNIQUE INDEX users_kz_cashier_code ON users (org_id, kz_cashier_code)
    WHERE kz_cashier_code IS NOT NULL;
