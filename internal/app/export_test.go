package app

// RunnerNames are the names of a's started runners, in start order (the
// reverse of the close order), for tests that pin that order.
func (a *App) RunnerNames() []string {
	names := make([]string, 0, len(a.runners.up))
	for _, s := range a.runners.up {
		names = append(names, s.name)
	}
	return names
}
