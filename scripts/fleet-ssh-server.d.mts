/** The answer of a fixture node to `cat /run/pxeforge/boot.json` (see fleet-ssh-server.mjs). */
export type Answer = { text: string } | 'missing' | 'hang' | 'hang-handshake' | 'close';

export interface FixtureNode {
  /** The node's private host key (OpenSSH). */
  hostKey: string | Buffer;
  answer: Answer;
}

export interface FleetServer {
  port: number;
  stats: { open: number; maxOpen: number; connections: number; /** `<address> <command>` of every command run. */
    commands: string[]; seen: Set<string> };
  close(): Promise<void>;
}

export function startFleetServer(options: {
  authorizedKey: string;
  nodes: Map<string, FixtureNode> | ((address: string) => FixtureNode | undefined);
  port?: number;
}): Promise<FleetServer>;
