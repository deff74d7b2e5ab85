// In-process "run changed" notifications for live lists (GET /stream/runs), coalesced so a burst of events is one message.
export type Listener = (runIds: string[]) => void;

export class RunNotifier {
  private readonly listeners = new Set<Listener>();
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly delayMs = 250) {}

  changed(...runIds: string[]): void {
    for (const id of runIds) this.pending.add(id);
    if (this.timer || !this.listeners.size) {
      if (!this.listeners.size) this.pending.clear();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      const ids = [...this.pending];
      this.pending = new Set();
      for (const l of this.listeners) l(ids);
    }, this.delayMs);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }
}
