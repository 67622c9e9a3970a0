-- accord's durable store, first schema (SQLite).
--
-- Every record keeps the full prost-encoded accord.v1 message in `message`, so nothing is lost
-- when the protocol grows; the other columns copy out only what is filtered, sorted or joined on.
-- Enum columns hold the protobuf enum numbers. Times are Unix milliseconds (UTC), NULL when unset;
-- the exact Timestamp is in the message.

-- Store-internal values (never shown through the API).
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Key for the check part of page tokens, so that a token this database did not issue is refused.
INSERT INTO store_meta (key, value) VALUES ('page_token_key', lower(hex(randomblob(32))));

-- Allies. accord.v1.Member.
CREATE TABLE members (
    code    TEXT PRIMARY KEY NOT NULL,   -- ISO 3166-1 alpha-3, "USA"
    status  INTEGER NOT NULL,            -- accord.v1.MemberStatus
    message BLOB NOT NULL
) STRICT;
CREATE INDEX members_status ON members (status, code);

-- Partners. accord.v1.Partner.
CREATE TABLE partners (
    code          TEXT PRIMARY KEY NOT NULL,
    category      INTEGER NOT NULL,      -- accord.v1.PartnerCategory
    participation INTEGER NOT NULL,      -- accord.v1.SummitParticipation
    message       BLOB NOT NULL
) STRICT;
CREATE INDEX partners_participation ON partners (participation, code);

-- Missions. accord.v1.Mission.
CREATE TABLE missions (
    id      TEXT PRIMARY KEY NOT NULL,   -- "KFOR"
    status  INTEGER NOT NULL,            -- accord.v1.MissionStatus
    area    INTEGER NOT NULL,            -- accord.v1.MissionArea
    message BLOB NOT NULL
) STRICT;
CREATE INDEX missions_status ON missions (status, id);

-- Proposals. accord.v1.Proposal, name "proposals/{id}". AUTOINCREMENT: an id is never reused.
CREATE TABLE proposals (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    state          INTEGER NOT NULL,     -- accord.v1.ProposalState
    kind           INTEGER NOT NULL,     -- accord.v1.ProposalKind
    target         TEXT NOT NULL,        -- "missions/KFOR", "partners/UKR", ...
    sponsor        TEXT NOT NULL,        -- "members/USA"
    create_time_ms INTEGER,
    deadline_ms    INTEGER,
    close_time_ms  INTEGER,
    message        BLOB NOT NULL
) STRICT;
CREATE INDEX proposals_state ON proposals (state, id);
CREATE INDEX proposals_kind ON proposals (kind, id);
CREATE INDEX proposals_target ON proposals (target, id);

-- Every ballot ever cast, in order. accord.v1.Ballot, name "proposals/{id}/ballots/{sequence}".
-- A member may cast several; the last one (highest sequence) counts.
CREATE TABLE ballots (
    sequence     INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id  INTEGER NOT NULL REFERENCES proposals (id),
    member       TEXT NOT NULL,          -- member code, "USA"
    choice       INTEGER NOT NULL,       -- accord.v1.Choice
    cast_time_ms INTEGER,
    message      BLOB NOT NULL
) STRICT;
CREATE INDEX ballots_proposal ON ballots (proposal_id, sequence);
CREATE INDEX ballots_proposal_member ON ballots (proposal_id, member, sequence);

-- Decisions that closed proposals. accord.v1.Decision (also copied into the proposal's message).
-- Keyed by its own sequence so that more than one decision per proposal can be kept later.
CREATE TABLE decisions (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id   INTEGER NOT NULL REFERENCES proposals (id),
    outcome       INTEGER NOT NULL,      -- accord.v1.Outcome
    settled       INTEGER NOT NULL,      -- 0 or 1
    policy_id     TEXT NOT NULL,
    close_time_ms INTEGER,
    message       BLOB NOT NULL
) STRICT;
CREATE INDEX decisions_proposal ON decisions (proposal_id, sequence);

-- Persisted settings ("default_policy").
CREATE TABLE settings (
    key            TEXT PRIMARY KEY NOT NULL,
    value          TEXT NOT NULL,
    update_time_ms INTEGER NOT NULL
) STRICT;

-- The audit log: what happened, in order.
CREATE TABLE audit_log (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    time_s   INTEGER NOT NULL,           -- when it was written: Unix seconds
    time_ns  INTEGER NOT NULL,           -- and nanoseconds within that second
    kind     TEXT NOT NULL,              -- "ballot", "decision", "proposal_created", ...
    subject  TEXT NOT NULL,              -- "proposals/3", "missions/KFOR"
    detail   TEXT NOT NULL               -- JSON
) STRICT;
