//go:build race

package h2

// raceEnabled: the race detector changes allocation counts (sync.Pool drops
// items at random), so allocation budgets are checked without it.
const raceEnabled = true
