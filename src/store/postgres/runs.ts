// PostgreSQL runs: batches committed in one transaction with multi-row statements, idempotent by run uid; runs read back.
import type { AsyncRepository, RunRange, RunRepository } from '../repositories.ts';
import type { RecordedRun, RunRecord, RunStatus, RunSummary, StoredRun } from '../types.ts';
import type { PostgresDb } from './db.ts';
import type { Partitions } from './partitions.ts';
import { insertRuns, loadState, applyRuns } from './run-writes.ts';
import { writeEffects } from './run-effects.ts';
import { runOf, summaryOf, SUMMARY_COLUMNS, type RunRow } from './run-rows.ts';

const STATUSES: readonly RunStatus[] = ['pass', 'warn', 'fail'];
/** `no partition of relation "runs" found for row`: a partition another process dropped (retention) since we made it. */
const NO_PARTITION = '23514';

export class PostgresRuns implements AsyncRepository<RunRepository> {
  constructor(
    private readonly db: PostgresDb,
    private readonly partitions: Partitions,
  ) {}

  async record(run: RunRecord): Promise<RecordedRun> {
    const [recorded] = await this.recordAll([run]);
    if (!recorded) throw new Error('the run was not recorded');
    return recorded;
  }

  async recordAll(runs: RunRecord[]): Promise<RecordedRun[]> {
    if (runs.length === 0) return [];
    await this.partitions.ensure(runs.map((run) => run.startedAt));
    try {
      return await this.write(runs);
    } catch (error) {
      if ((error as { code?: string }).code !== NO_PARTITION) throw error;
      this.partitions.forget();
      await this.partitions.ensure(runs.map((run) => run.startedAt));
      return this.write(runs);
    }
  }

  private write(runs: RunRecord[]): Promise<RecordedRun[]> {
    return this.db.tx(async (client) => {
      const { ids, fresh } = await insertRuns(client, runs);
      const state = await loadState(
        client,
        runs.filter((_, i) => fresh[i]),
      );
      const changes = applyRuns(state, runs, ids, fresh);
      const stored = runs.flatMap((run, i) => (fresh[i] ? [{ run, runId: ids[i] ?? 0 }] : []));
      await writeEffects(client, state, stored, changes.flat());
      return runs.map((_, i) => ({ runId: ids[i] ?? 0, changes: changes[i] ?? [] }));
    });
  }

  async list(probe: string, options: RunRange = {}): Promise<StoredRun[]> {
    return (await this.inRange('*', probe, options)).map(runOf);
  }

  async summaries(probe: string, options: RunRange = {}): Promise<RunSummary[]> {
    return (await this.inRange(SUMMARY_COLUMNS, probe, options)).map(summaryOf);
  }

  /** The probe's runs started in [since, until) (at one location, if given), newest first, at most `limit`. */
  private async inRange(columns: string, probe: string, options: RunRange): Promise<RunRow[]> {
    const { rows } = await this.db.query<RunRow>(
      `SELECT ${columns} FROM runs WHERE probe = $1 AND started_at >= $2 AND started_at < $3 AND ($5::text IS NULL OR location = $5)
       ORDER BY started_at DESC, id DESC LIMIT $4`,
      [
        probe,
        options.since ?? 0,
        options.until ?? Number.MAX_SAFE_INTEGER,
        options.limit ?? 1000,
        options.location ?? null,
      ],
    );
    return rows;
  }

  async get(id: number): Promise<StoredRun | undefined> {
    const { rows } = await this.db.query<RunRow>('SELECT * FROM runs WHERE id = $1', [id]);
    return rows[0] ? runOf(rows[0]) : undefined;
  }

  /** One statement: the last n runs of each probe along its (probe, started_at) index. */
  async recentStatuses(probes: string[], n: number): Promise<Map<string, RunStatus[]>> {
    const statuses = new Map<string, RunStatus[]>(probes.map((probe) => [probe, []]));
    if (n <= 0 || probes.length === 0) return statuses;
    const { rows } = await this.db.query<{ probe: string; status: number }>(
      `SELECT p.probe, r.status FROM unnest($1::text[]) AS p(probe)
       CROSS JOIN LATERAL (SELECT status, started_at FROM runs WHERE probe = p.probe ORDER BY started_at DESC LIMIT $2) r
       ORDER BY p.probe, r.started_at`,
      [probes, n],
    );
    for (const row of rows) statuses.get(row.probe)?.push(STATUSES[row.status] ?? 'fail');
    return statuses;
  }

  async observationsOver(
    probe: string,
    since: number,
    until: number,
  ): Promise<Array<{ at: number; observations: StoredRun['observations'] }>> {
    const runs = await this.list(probe, { since, until: until + 1, limit: Number.MAX_SAFE_INTEGER });
    return runs.reverse().map((run) => ({ at: run.startedAt + run.durationMs, observations: run.observations }));
  }

  /**
   * Each agent's runs past its cursor (a run id); of an agent not in `cursors`, its runs started at or after
   * `since`. A run without an agent is agent ''s. Oldest first by id, at most `limit`.
   */
  async after(cursors: ReadonlyMap<string, number>, limit: number, since = 0): Promise<StoredRun[]> {
    const agents = [...cursors.keys()];
    const { rows } = await this.db.query<RunRow>(
      // The agents present, by a skip scan of the (agent, id) index; then each one's next runs along it (an agent
      // without a cursor: from `since`, which prunes the partitions before it).
      `WITH RECURSIVE agents(agent) AS (
         (SELECT agent FROM runs ORDER BY agent LIMIT 1)
         UNION ALL
         SELECT (SELECT agent FROM runs WHERE agent > agents.agent ORDER BY agent LIMIT 1) FROM agents WHERE agents.agent IS NOT NULL
       )
       (SELECT r.* FROM agents a JOIN unnest($1::text[], $2::int8[]) AS c(agent, cursor) ON c.agent = a.agent
         CROSS JOIN LATERAL (SELECT * FROM runs WHERE runs.agent = a.agent AND runs.id > c.cursor ORDER BY runs.id LIMIT $3) r)
       UNION ALL
       (SELECT r.* FROM agents a
         CROSS JOIN LATERAL (SELECT * FROM runs WHERE runs.agent = a.agent AND runs.started_at >= $4 ORDER BY runs.id LIMIT $3) r
         WHERE a.agent IS NOT NULL AND a.agent <> ALL($1::text[]))
       ORDER BY id LIMIT $3`,
      [agents, agents.map((agent) => cursors.get(agent) ?? 0), limit, since],
    );
    return rows.map(runOf);
  }
}
