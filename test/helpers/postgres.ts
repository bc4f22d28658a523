// A private PostgreSQL for tests: one cluster per test file in a fresh folder, a fresh database per test, stopped by PID.
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../src/lab/postgres.ts';

export interface TestPostgres {
  server: PostgresServer;
  /** A new empty database on the cluster; its URL. */
  freshDatabase(): Promise<string>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

let counter = 0;

export async function startTestPostgres(): Promise<TestPostgres> {
  const server = await startPostgres({ fast: true });
  return {
    server,
    async freshDatabase() {
      counter += 1;
      const name = `t${process.pid}_${counter}`;
      const admin = new pg.Client(server.url);
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return server.url.replace(/\/scaiprobe$/, `/${name}`);
    },
    async stop() {
      await server.destroy();
    },
  };
}
