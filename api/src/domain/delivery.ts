// Delivery health of a run's events: what the nf-scrna plugin numbered (seq 1, 2, ...) against what is stored.
// The plugin's last event of a run is `completed`, numbered after every other, so its seq is how many events the run
// emitted: once it is stored the count of unacknowledged events is exact. A run that ended without it had its tail
// left in the plugin's spool (API down or slow at the end), which no gap below maxSeq can show.
import type { Run } from './ports.js';
import { TERMINAL } from './ports.js';

export interface DeliveryFacts {
  eventsReceived: number;
  lastEventAt: string | null;
  maxSeq: number | null;
  /** Stored events that carry a seq. */
  seqCount: number;
  /** seq of the stored end-of-run `completed` event (null when none is stored). */
  endSeq: number | null;
  status: Run['status'];
}

/**
 * `unacknowledged`: numbered events not stored. Exact while the run goes on (gaps below maxSeq) and once the end event
 * is stored (it is numbered last); null when it cannot be told: no numbered events (nf-weblog, a trace import), or a
 * run that ended without its end event (`endReceived` false), whose tail is still in the plugin's spool.
 */
export function deliveryHealth(f: DeliveryFacts): Run['delivery'] {
  const missingSeq = f.maxSeq === null ? 0 : Math.max(0, f.maxSeq - f.seqCount);
  const tailUnknown = f.endSeq === null && TERMINAL.has(f.status);
  return {
    eventsReceived: f.eventsReceived,
    lastEventAt: f.lastEventAt,
    maxSeq: f.maxSeq,
    missingSeq,
    endReceived: f.endSeq !== null,
    unacknowledged: f.maxSeq === null || tailUnknown ? null : missingSeq,
  };
}
