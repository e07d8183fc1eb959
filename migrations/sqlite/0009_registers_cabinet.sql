-- Registers as the cabinet keeps them (same meaning as ../postgres/0009_registers_cabinet.sql).
-- Points of sale: addresses kept once per organisation and shared by its registers.
CREATE TABLE points_of_sale (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       BIGINT  NOT NULL REFERENCES organisations (id),
    name         TEXT    NOT NULL,
    region       TEXT,
    city         TEXT,
    street       TEXT,
    house        TEXT,
    premises     TEXT,
    postal_code  TEXT,
    -- Free-form location ("junction of routes M-36 and R-35").
    location     TEXT,
    -- RU: ФИАС/ГАР code of the address; KZ: КАТО code (kept as data, no directory behind it).
    fias_code    TEXT,
    kato_code    TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX points_of_sale_org ON points_of_sale (org_id, id);

-- The cabinet's view of a register. `status` stays the ingest gate (active, blocked,
-- deregistered); `lifecycle` is the cabinet's state machine (saved, submitted, registered,
-- active, blocked, reregistration, deregistered) from which the gate is derived by the one
-- store function that changes it (store::registers::transition).
ALTER TABLE registers ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'active';
-- While `lifecycle` is 'saved' after an edit: the state the owner's confirmation returns to.
ALTER TABLE registers ADD COLUMN resume_lifecycle TEXT;
-- When the gate last left 'active' (UTC ms): documents made before it are still accepted.
ALTER TABLE registers ADD COLUMN gate_closed_at BIGINT;
ALTER TABLE registers ADD COLUMN pos_id BIGINT REFERENCES points_of_sale (id);
-- 'hardware' or 'software' (АПК, no SIM).
ALTER TABLE registers ADD COLUMN device_type TEXT;
-- 'sim' or 'wired'.
ALTER TABLE registers ADD COLUMN connection_type TEXT;
ALTER TABLE registers ADD COLUMN iccid TEXT;
ALTER TABLE registers ADD COLUMN msisdn TEXT;
-- Last 10 digits of the MSISDN, for the look-up by phone number.
ALTER TABLE registers ADD COLUMN msisdn_tail TEXT;
-- Offset of the register's wall clock from UTC, minutes (document times are local).
ALTER TABLE registers ADD COLUMN utc_offset_minutes BIGINT;
-- Date the tax authority registered it (UTC ms), entered from its answer.
ALTER TABLE registers ADD COLUMN registered_at BIGINT;
-- Everything else the cabinet keeps (name, year, ФН model and expiry, usage modes, ФФД, РНМ
-- card …) as one JSON object, read and written whole through store::registers::RegisterDetails.
ALTER TABLE registers ADD COLUMN details TEXT;
UPDATE registers SET lifecycle = status;
CREATE INDEX registers_pos ON registers (pos_id, id);
CREATE INDEX registers_msisdn_tail ON registers (msisdn_tail);
CREATE INDEX registers_serial ON registers (serial);
CREATE INDEX registers_reg_number ON registers (reg_number);

-- Every edit of a register as a version: who, when, and the whole register after it.
CREATE TABLE register_versions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    register_id  BIGINT  NOT NULL REFERENCES registers (id),
    version      BIGINT  NOT NULL,
    actor        TEXT    NOT NULL,
    at           BIGINT  NOT NULL,
    snapshot     TEXT    NOT NULL,
    UNIQUE (register_id, version)
);

-- Every status change: from, to, who, when, why.
CREATE TABLE register_transitions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    register_id  BIGINT  NOT NULL REFERENCES registers (id),
    from_state   TEXT    NOT NULL,
    to_state     TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    at           BIGINT  NOT NULL,
    reason       TEXT,
    reason_text  TEXT
);
CREATE INDEX register_transitions_register ON register_transitions (register_id, id);

-- RU fiscal drives a register has had; the current one is also registers.fn_number. A replaced
-- drive keeps its row with ended_at, so its last documents still find the register.
CREATE TABLE register_drives (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    register_id  BIGINT  NOT NULL REFERENCES registers (id),
    fn_number    TEXT    NOT NULL UNIQUE,
    fn_model     TEXT,
    fn_expiry    TEXT,
    started_at   BIGINT  NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX register_drives_register ON register_drives (register_id, id);

-- Applications to the tax authority (registration, re-registration, deregistration).
CREATE TABLE tax_applications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         BIGINT  NOT NULL REFERENCES organisations (id),
    register_id    BIGINT  NOT NULL REFERENCES registers (id),
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    -- The application's fields as JSON (what the printable page and the export show).
    fields         TEXT    NOT NULL,
    signature      TEXT,
    signer         TEXT,
    refusal_reason TEXT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX tax_applications_org ON tax_applications (org_id, id);
CREATE INDEX tax_applications_register ON tax_applications (register_id, id);

-- Last document time of a register without scanning its documents.
CREATE INDEX documents_fn_received ON documents (fn_number, received_at);
CREATE INDEX documents_system_received ON documents (system_id, received_at);
