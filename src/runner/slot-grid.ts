// Slot times every process computes alike: a probe's phase and each slot's jitter are drawn from its name, not at random.

/** Where a probe's interval slots fall: slot `index` is due at timeOf(index); indexAt finds the latest slot due by then. */
export interface SlotGrid {
  timeOf(name: string, every: number, index: number): number;
  indexAt(name: string, every: number, at: number): number;
}

/**
 * The grid agents of a fleet share. Slot k of a probe is due at
 * k·every + phase + jitter_k, on the epoch's clock, where the phase and each
 * jitter are hashes of the probe's name (and k). Two agents thus agree on every
 * slot's time: an agent that takes a probe over runs the slots from its claim
 * on, never again one its predecessor ran, and a restart keeps the schedule.
 * Load still spreads: phases are uniform over the interval across names.
 * `jitter` (at most 1) keeps slot times in order: a slot moves at most
 * jitter/2 of the interval either way.
 */
export function sharedSlotGrid(jitter: number): SlotGrid {
  const spread = Math.min(Math.max(jitter, 0), 1);
  const timeOf = (name: string, every: number, index: number): number => {
    const phase = unitHash(name) * every;
    const offset = (unitHash(`${name}\u0000${String(index)}`) - 0.5) * spread * every;
    // Whole milliseconds: the times a run's start is recorded in, so a run on time is never before its slot.
    return Math.round(index * every + phase + offset);
  };
  return {
    timeOf,
    indexAt(name, every, at) {
      // Slot k is due within half an interval of k·every + phase: slot e-1 is always due by `at`, slot e+2 never.
      const estimate = Math.floor((at - unitHash(name) * every) / every);
      if (timeOf(name, every, estimate + 1) <= at) return estimate + 1;
      return timeOf(name, every, estimate) <= at ? estimate : estimate - 1;
    },
  };
}

/** FNV-1a of the text's UTF-16 code units, as a fraction in [0, 1): stable across processes and versions. */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // FNV's low bits mix poorly for short inputs: a final avalanche spreads them over the fraction.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  return (hash >>> 0) / 2 ** 32;
}
