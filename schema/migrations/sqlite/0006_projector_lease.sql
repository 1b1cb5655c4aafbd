-- The projector lease: of the projectors sharing this read store, the one
-- named here applies events; the others stand by until it expires. Each
-- taking of the lease raises epoch, and every batch checks holder and
-- epoch in the transaction that writes the checkpoint, so that a former
-- holder can never write again. expires_at is in Unix microseconds, from
-- the clock of the one host that opens the file.
CREATE TABLE projector_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT    NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
INSERT INTO projector_lease (id, holder, epoch, expires_at) VALUES (1, '', 0, 0);
