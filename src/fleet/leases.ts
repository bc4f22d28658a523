// Probe leases in PostgreSQL: one row per (location, probe), held by one agent until a time, claimed with SKIP LOCKED.
import type pg from 'pg';
import { millis } from './membership.ts';

/**
 * The rows of `probes` at `location`, created free (no agent, ended long ago)
 * where missing, so claiming is always an UPDATE of a row lock can guard.
 */
export async function ensureLeases(pool: pg.Pool, location: string, probes: string[]): Promise<void> {
  if (probes.length === 0) return;
  await pool.query(
    `INSERT INTO fleet_leases (location, probe, agent, until)
     SELECT $1, probe, NULL, '-infinity' FROM unnest($2::text[]) AS probe
     ON CONFLICT (location, probe) DO NOTHING`,
    [location, probes],
  );
}

/**
 * Extends the leases `agent` still holds among `probes`; answers those. A
 * lease another agent has claimed meanwhile is not this agent's any more and
 * is not returned. A lapsed lease nobody claimed is taken back: nobody ran its
 * slots since it lapsed, as only a claim hands it on.
 */
export async function renewLeases(
  pool: pg.Pool,
  agent: string,
  location: string,
  probes: string[],
  leaseMs: number,
): Promise<string[]> {
  const result = await pool.query<{ probe: string }>(
    `UPDATE fleet_leases SET until = clock_timestamp() + $4::interval
     WHERE agent = $1 AND location = $2 AND probe = ANY($3::text[]) RETURNING probe`,
    [agent, location, probes, millis(leaseMs)],
  );
  return result.rows.map((row) => row.probe).sort();
}

/**
 * Claims up to `limit` of `probes` at `location` whose lease has ended (free,
 * released, or its holder silent past the lease). Rows another agent is
 * claiming at this moment are skipped, not waited for (FOR UPDATE SKIP
 * LOCKED), and the end is checked again on the locked row, so two agents never
 * take one lease. A lease that has not ended is never taken: its holder may
 * still run a slot before that end (the fencing the scheduler relies on).
 */
export async function claimLeases(
  pool: pg.Pool,
  agent: string,
  location: string,
  probes: string[],
  limit: number,
  leaseMs: number,
): Promise<string[]> {
  if (limit <= 0 || probes.length === 0) return [];
  const result = await pool.query<{ probe: string }>(
    `WITH free AS (
       SELECT location, probe FROM fleet_leases
       WHERE location = $2 AND probe = ANY($3::text[]) AND until < clock_timestamp()
       ORDER BY until, probe LIMIT $4
       FOR UPDATE SKIP LOCKED
     )
     UPDATE fleet_leases l SET agent = $1, until = clock_timestamp() + $5::interval
     FROM free WHERE l.location = free.location AND l.probe = free.probe
     RETURNING l.probe`,
    [agent, location, probes, limit, millis(leaseMs)],
  );
  return result.rows.map((row) => row.probe).sort();
}

/**
 * Gives leases up at once (the others may claim them at their next beat). The
 * caller stops treating them as its own before calling: after this they may
 * be claimed and run elsewhere. `probes` undefined: every lease of `agent`.
 */
export async function releaseLeases(pool: pg.Pool, agent: string, location?: string, probes?: string[]): Promise<void> {
  await pool.query(
    `UPDATE fleet_leases SET agent = NULL, until = '-infinity'
     WHERE agent = $1 AND ($2::text IS NULL OR location = $2) AND ($3::text[] IS NULL OR probe = ANY($3::text[]))`,
    [agent, location ?? null, probes ?? null],
  );
}

/** Leases `agent` holds at `location` for probes it no longer runs there (taken out of its configuration). */
export async function heldOutside(pool: pg.Pool, agent: string, location: string, probes: string[]): Promise<string[]> {
  const result = await pool.query<{ probe: string }>(
    'SELECT probe FROM fleet_leases WHERE agent = $1 AND location = $2 AND NOT (probe = ANY($3::text[]))',
    [agent, location, probes],
  );
  return result.rows.map((row) => row.probe);
}
