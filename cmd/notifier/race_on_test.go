//go:build race

package main

// raceEnabled: the race detector slows the pure-Go SQLite engine about
// fifteen-fold, so the largest embedded runs are scaled down under it.
const raceEnabled = true
