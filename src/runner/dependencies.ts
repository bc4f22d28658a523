// Which probes read which others' output, and an order that runs the ones read first.
import type { ProbeSpec } from '../config/load.ts';
import { findKind } from '../probers/registry.ts';

/**
 * For each probe, the probes among `specs` whose output it reads (a browser
 * probe's mail probe). Names outside `specs` (a probe disabled, or not
 * selected in `check`) are left out: no run of theirs is coming to wait for.
 */
export function producersOf(specs: ProbeSpec[]): Map<string, string[]> {
  const names = new Set(specs.map((spec) => spec.name));
  const producers = new Map<string, string[]>();
  for (const spec of specs) {
    const consumed = (findKind(spec.kind)?.consumes?.(spec) ?? []).map((entry) => entry.probe);
    const present = [...new Set(consumed)].filter((name) => names.has(name) && name !== spec.name);
    if (present.length > 0) producers.set(spec.name, present);
  }
  return producers;
}

/** `specs` in their order, except that a probe comes after the probes it reads from. */
export function producersFirst(specs: ProbeSpec[], producers: Map<string, string[]>): ProbeSpec[] {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const ordered: ProbeSpec[] = [];
  const placed = new Set<string>();
  const place = (spec: ProbeSpec) => {
    if (placed.has(spec.name)) return;
    placed.add(spec.name);
    for (const name of producers.get(spec.name) ?? []) {
      const producer = byName.get(name);
      if (producer) place(producer);
    }
    ordered.push(spec);
  };
  for (const spec of specs) place(spec);
  return ordered;
}
