// The dependency every load of a run's pages declares: invalidating it reloads the run and the open tab.
export const runDependency = (id: string) => `run:${id}` as const;
