-- Indexes for the read queries of internal/readmodel that 0001 does not
-- serve: the learnings library lists newest first (by stream position),
-- and the failure backlog and failure walks start from failed experiments.
CREATE INDEX learnings_position ON learnings (position);
CREATE INDEX experiments_outcome ON experiments (outcome, concluded_at);
