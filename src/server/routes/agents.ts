// GET /api/v1/agents: the fleet's agents (location, host, pid, version, configuration, heartbeat, live) and its warnings (admin only).
import type { Logger } from 'pino';
import type { FleetAgents } from '../../fleet/fleet.ts';
import type { AgentIdentity } from '../../fleet/identity.ts';
import { sendJson, type Router } from '../router.ts';

/** What the route reads of the Fleet. */
export interface AgentSource {
  readonly name: string;
  readonly location: string;
  agents(): Promise<FleetAgents>;
}

export interface AgentView extends AgentIdentity {
  startedAt: string;
  lastHeartbeat: string;
  live: boolean;
  /** Probe leases it holds now. */
  probes: number;
  leader: boolean;
  /** The agent answering. */
  self: boolean;
}

export interface AgentsAnswer {
  self: string;
  location: string;
  agents: AgentView[];
  warnings: string[];
}

/** The fleet's agents as the API shows them, with a warning when live agents run different configurations. */
export function agentsAnswer(source: AgentSource, fleet: FleetAgents): AgentsAnswer {
  const agents = fleet.agents.map(({ startedAt, heartbeatAt, ...agent }) => ({
    ...agent,
    startedAt: new Date(startedAt).toISOString(),
    lastHeartbeat: new Date(heartbeatAt).toISOString(),
  }));
  const warnings: string[] = [];
  if (fleet.configurationsDiffer) {
    const groups = Object.entries(fleet.configurations).map(([hash, names]) => `${hash} (${names.join(', ')})`);
    warnings.push(
      `live agents run ${groups.length} different configurations: ${groups.join('; ')}; they place and judge probes differently until they agree`,
    );
  }
  return { self: source.name, location: source.location, agents, warnings };
}

export function registerAgentRoutes(router: Router, fleet: AgentSource, logger?: Logger): void {
  router.add('GET', '/api/v1/agents', async ({ res }) => {
    let listed: FleetAgents;
    try {
      listed = await fleet.agents();
    } catch (error) {
      logger?.warn({ err: error }, 'fleet: cannot list the agents');
      return sendJson(res, 503, { error: 'the fleet database cannot be reached; the agents are not known' });
    }
    sendJson(res, 200, agentsAnswer(fleet, listed));
  });
}
