// The run page layout loads the run once and shares it (kept live) with its tabs.
import { getContext, setContext } from 'svelte';
import type { Run } from './api.js';

export interface RunState {
  run: Run | null;
  error: unknown;
  refresh: () => Promise<void>;
}

const KEY = Symbol('run');
export const provideRun = (s: RunState) => setContext(KEY, s);
export const useRun = () => getContext<RunState>(KEY);
