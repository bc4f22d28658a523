// Items a probe recorded before, as the prober reads them on its next run.
import type { RunItem } from '../core/probe.ts';
import type { RecordedItems } from '../core/probe.ts';
import type { ItemRepository } from '../store/repositories.ts';
import type { RunRecord } from '../store/types.ts';

/** Items kept per (probe, type) in memory: enough for a reader that asks for the last few runs' items. */
const KEPT_PER_KIND = 200;

/**
 * The items of runs finished in this process, newest last, a bounded number
 * per probe and type. `scaiprobe check` has no store: this is what a probe
 * there reads about another (a browser probe, the tokens its mail probe sent).
 */
export class RecentItems implements RecordedItems {
  private readonly kept = new Map<string, RunItem[]>();

  /** Keeps a finished run's items. */
  remember(run: Pick<RunRecord, 'probe' | 'items'>): void {
    for (const item of run.items) {
      const key = keyOf(run.probe, item.type);
      const list = this.kept.get(key) ?? [];
      list.push(item);
      if (list.length > KEPT_PER_KIND) list.splice(0, list.length - KEPT_PER_KIND);
      this.kept.set(key, list);
    }
  }

  newest(probe: string, type: string, limit: number): RunItem[] {
    return (this.kept.get(keyOf(probe, type)) ?? []).slice(-limit).reverse();
  }
}

function keyOf(probe: string, type: string): string {
  return JSON.stringify([probe, type]);
}

/** The store's items as probes read them: the daemon's view, which survives a restart and is shared by a fleet. */
export function storedItems(items: ItemRepository): RecordedItems {
  return {
    newest: (probe, type, limit) =>
      items.list({ type, probe, limit, newest: true }).map((item) => ({
        type: item.type,
        key: item.key,
        ...(item.state !== null ? { state: item.state } : {}),
        data: item.data,
      })),
  };
}
