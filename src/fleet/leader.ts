// The leader lease in PostgreSQL: one row, held by one agent until a time, renewed by it and taken over once it ends.
import type pg from 'pg';
import { millis } from './membership.ts';

/**
 * Takes or renews the leader lease; true when `agent` holds it now. The
 * holder renews it whenever it beats; another agent takes it only once it has
 * ended, so there is one leader at a time while the database is reachable.
 */
export async function acquireLeadership(pool: pg.Pool, agent: string, leaseMs: number): Promise<boolean> {
  const result = await pool.query<{ agent: string }>(
    `INSERT INTO fleet_leader (id, agent, until) VALUES (true, $1, clock_timestamp() + $2::interval)
     ON CONFLICT (id) DO UPDATE SET agent = EXCLUDED.agent, until = EXCLUDED.until
     WHERE fleet_leader.agent = EXCLUDED.agent OR fleet_leader.until < clock_timestamp()
     RETURNING agent`,
    [agent, millis(leaseMs)],
  );
  return result.rowCount === 1;
}

/** A clean stop gives the lease up, so another agent leads from its next beat. */
export async function resignLeadership(pool: pg.Pool, agent: string): Promise<void> {
  await pool.query('DELETE FROM fleet_leader WHERE agent = $1', [agent]);
}

/** The current leader, if its lease has not ended. */
export async function currentLeader(pool: pg.Pool): Promise<string | undefined> {
  const result = await pool.query<{ agent: string }>('SELECT agent FROM fleet_leader WHERE until > clock_timestamp()');
  return result.rows[0]?.agent;
}
