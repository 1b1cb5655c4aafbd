package readstore

// SetRebuildHook makes r call f as its swap reaches each stage:
// "before-swap" once the fresh tables are complete, before the swap
// touches a live table; on Postgres "lock" at the start of each attempt
// to lock the live tables; on SQLite "swap-written" inside the swap's
// transaction, before it commits.
func SetRebuildHook(r *Rebuild, f func(stage string)) { r.r.setHook(f) }
