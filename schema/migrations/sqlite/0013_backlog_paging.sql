-- The learning backlog is read a page at a time, oldest conclusion
-- first, by keyset on (concluded_at, id): these indexes give a page in
-- that order, for every team and for one, without reading the rest of
-- the failures. The first supersedes experiments_outcome, its prefix.
DROP INDEX experiments_outcome;
CREATE INDEX experiments_outcome_concluded ON experiments (outcome, concluded_at, id);
CREATE INDEX experiments_team_outcome_concluded ON experiments (team, outcome, concluded_at, id);
