package mesos

import "io"

// SyntheticState streams a generated GET /master/state document of the given size (see
// syntheticState) for benchmarks in other test packages of this directory.
func SyntheticState(agents, tasks, tasksPerApp int) io.ReadCloser {
	return syntheticState{agents: agents, tasks: tasks, tasksPerApp: tasksPerApp, completedTasks: 1000}.pipe()
}
