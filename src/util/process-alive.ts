// Whether a process id is alive on this host.
import { hostname } from 'node:os';

/**
 * Whether a process with this pid exists on this host. Signal 0 checks
 * without sending anything; EPERM means it exists but belongs to someone else.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This machine's name, as written next to a pid in locks and leases (a pid means nothing on another host). */
export function thisHost(): string {
  return hostname();
}
