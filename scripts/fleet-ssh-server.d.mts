/** The answer of a fixture node to `cat /run/pxeforge/boot.json` (see fleet-ssh-server.mjs). */
export type Answer = { text: string } | 'missing' | 'hang' | 'hang-handshake' | 'close';

/** What a fixture node answers to any other command (health checks). */
export type CommandAnswer = { stdout?: string; stderr?: string; exit: number } | 'hang';

export interface FixtureNode {
  /** The node's private host key (OpenSSH). */
  hostKey: string | Buffer;
  answer: Answer;
  /** Answers to other commands than `cat /run/pxeforge/boot.json`; undefined: `No such file`, exit 1. */
  run?: (command: string) => CommandAnswer | undefined;
}

export interface FleetServer {
  port: number;
  stats: { open: number; maxOpen: number; connections: number; /** `<address> <command>` of every command run. */
    commands: string[]; seen: Set<string>; /** The address of every authentication attempt. */
    authentications: string[] };
  close(): Promise<void>;
}

export function startFleetServer(options: {
  authorizedKey: string;
  nodes: Map<string, FixtureNode> | ((address: string) => FixtureNode | undefined);
  port?: number;
}): Promise<FleetServer>;
