// GA4GH WES 1.1: its State enum and the one table that maps a platform run status onto it. Every WES answer that
// names a state goes through WES_STATE_OF, so no state outside the enum can reach a client.
import type { RunStatus } from './ports.js';

/** The WES 1.1 State enum, in the specification's order. */
export const WES_STATES = [
  'UNKNOWN',
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'CANCELING',
  'PREEMPTED',
] as const;

export type WesState = (typeof WES_STATES)[number];

/**
 * Our statuses as WES states. SUBMITTED is a launch handed to the engine that has not started (a Batch head job
 * waiting for a host, a local Nextflow starting its JVM): INITIALIZING. A FAILED run ended with an error from the
 * workflow or its launch: EXECUTOR_ERROR. Cancel takes effect at once here, so CANCELING is never reported.
 */
export const WES_STATE_OF: Readonly<Record<RunStatus, WesState>> = {
  QUEUED: 'QUEUED',
  SUBMITTED: 'INITIALIZING',
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETE',
  FAILED: 'EXECUTOR_ERROR',
  CANCELLED: 'CANCELED',
};
