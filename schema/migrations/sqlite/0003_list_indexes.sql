-- Filtered experiment lists read newest first (registered_at, id) and stop
-- at the page size. With the sort key after the filter columns, the
-- database walks one index in order and stops early, instead of sorting
-- every match first (the bench measured 177–442 ms on SQLite for 100,000
-- experiments without these). The dashboards count learnings by month.
CREATE INDEX experiments_team_status_recent ON experiments (team, status, registered_at, id);
CREATE INDEX experiments_outcome_recent ON experiments (outcome, registered_at, id);
CREATE INDEX learnings_recorded_month ON learnings (recorded_month);
