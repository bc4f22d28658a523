// Membership in PostgreSQL: an agent's row (registered, heartbeated, removed on a clean stop) and the fleet's list.
import type pg from 'pg';
import type { AgentIdentity } from './identity.ts';

/** One agent as the fleet sees it: its identity, and what its row says of it now. */
export interface AgentRecord extends AgentIdentity {
  startedAt: number;
  heartbeatAt: number;
  /** Heartbeat within the lease time. */
  live: boolean;
  /** Probe leases it holds now. */
  probes: number;
}

/** Live agents: all of them, and per location. */
export interface LiveCounts {
  total: number;
  byLocation: Map<string, number>;
}

/** `ms` as an SQL interval parameter. */
export const millis = (ms: number): string => `${Math.round(ms)} milliseconds`;

/** Registers the agent or records its heartbeat (the database's clock, so agents' clocks need not agree). */
export async function heartbeat(pool: pg.Pool, agent: AgentIdentity, startedAt: number): Promise<void> {
  await pool.query(
    `INSERT INTO fleet_agents (name, location, host, pid, version, config_hash, started_at, heartbeat_at)
     VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), clock_timestamp())
     ON CONFLICT (name) DO UPDATE SET location = EXCLUDED.location, host = EXCLUDED.host, pid = EXCLUDED.pid,
       version = EXCLUDED.version, config_hash = EXCLUDED.config_hash, started_at = EXCLUDED.started_at,
       heartbeat_at = EXCLUDED.heartbeat_at`,
    [agent.name, agent.location, agent.host, agent.pid, agent.version, agent.configHash, startedAt],
  );
}

/** Agents whose heartbeat is within `leaseMs`, counted per location. */
export async function liveCounts(pool: pg.Pool, leaseMs: number): Promise<LiveCounts> {
  const result = await pool.query<{ location: string; n: number }>(
    `SELECT location, count(*)::int AS n FROM fleet_agents
     WHERE heartbeat_at > clock_timestamp() - $1::interval GROUP BY location`,
    [millis(leaseMs)],
  );
  const byLocation = new Map(result.rows.map((row) => [row.location, row.n]));
  return { total: [...byLocation.values()].reduce((sum, n) => sum + n, 0), byLocation };
}

/** A clean stop: the agent's row goes at once, so the others rebalance now rather than after the lease time. */
export async function deregister(pool: pg.Pool, name: string): Promise<void> {
  await pool.query('DELETE FROM fleet_agents WHERE name = $1', [name]);
}

/** Every registered agent, live or not, with the leases each holds. */
export async function listAgents(pool: pg.Pool, leaseMs: number): Promise<AgentRecord[]> {
  const result = await pool.query<{
    name: string;
    location: string;
    host: string;
    pid: number;
    version: string;
    config_hash: string;
    started_at: Date;
    heartbeat_at: Date;
    live: boolean;
    probes: number;
  }>(
    `SELECT a.*, a.heartbeat_at > clock_timestamp() - $1::interval AS live,
       (SELECT count(*)::int FROM fleet_leases l WHERE l.agent = a.name AND l.until > clock_timestamp()) AS probes
     FROM fleet_agents a ORDER BY a.location, a.name`,
    [millis(leaseMs)],
  );
  return result.rows.map((row) => ({
    name: row.name,
    location: row.location,
    host: row.host,
    pid: row.pid,
    version: row.version,
    configHash: row.config_hash,
    startedAt: row.started_at.getTime(),
    heartbeatAt: row.heartbeat_at.getTime(),
    live: row.live,
    probes: row.probes,
  }));
}

/** Forgets agents silent for longer than `ms` (killed and never restarted), so the list does not grow for ever. */
export async function forgetSilent(pool: pg.Pool, ms: number): Promise<number> {
  const result = await pool.query('DELETE FROM fleet_agents WHERE heartbeat_at < clock_timestamp() - $1::interval', [
    millis(ms),
  ]);
  return result.rowCount ?? 0;
}

/** Who holds a name in the table: its process, last heartbeat and whether that is within the lease, if the row exists. */
export async function holderOf(
  pool: pg.Pool,
  name: string,
  leaseMs: number,
): Promise<{ host: string; pid: number; heartbeatAt: number; live: boolean } | undefined> {
  const result = await pool.query<{ host: string; pid: number; heartbeat_at: Date; live: boolean }>(
    `SELECT host, pid, heartbeat_at, heartbeat_at > clock_timestamp() - $2::interval AS live
     FROM fleet_agents WHERE name = $1`,
    [name, millis(leaseMs)],
  );
  const row = result.rows[0];
  return row ? { host: row.host, pid: row.pid, heartbeatAt: row.heartbeat_at.getTime(), live: row.live } : undefined;
}
