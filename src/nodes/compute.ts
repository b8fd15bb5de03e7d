import type { Problem } from '../errors/problems.js';
import { ValidationError } from '../errors/problems.js';
import { printable, quoted } from '../errors/quote-text.js';
import type { NodeGroup, SettingLocation, SiteNode, SiteTree, VarValue } from '../site/site-config.js';
import { generateHostKey, type HostKey, knownHostsLine, makeHostKeysDir, readHostKey } from './host-keys.js';
import type { Accounts, NodeFile, NodeFiles } from './node-file.js';
import { loadNodeFileSet, type MetaEntry, type NodeFileSet, type SetEntry } from './node-sets.js';
import { readSecret, secretsDirProblems } from './secrets.js';
import { nodeTemplateEngine, templateError, type ParsedTemplate } from './templates.js';

export interface ComputeNodeFilesOptions {
  /**
   * What each node group boots in the generation being made: the accounts of its version
   * (undefined when its manifest records none), or undefined when its channel serves nothing
   * (its members boot as unknown nodes and get no archive).
   */
  served: (group: string) => { accounts: Accounts | undefined } | undefined;
  /** Make the managed host keys nodes lack (promote, refresh, known-hosts); previews never write. */
  generateHostKeys: boolean;
  signal?: AbortSignal;
}

/** Where the managed host key goes on a node, and the sshd setting that makes sshd offer exactly it. */
export const managedHostKeyPath = '/etc/ssh/ssh_host_ed25519_key';
export const managedHostKeyConfPath = '/etc/ssh/sshd_config.d/50-pxeforge-host-key.conf';
const managedKeySource = 'managed SSH host key';

/**
 * Every file each member of a node group with node files receives, in node order. Bad input
 * (an unknown variable, a missing secret, a path leaving `/`, loose secrets permissions…)
 * throws one UserError listing every located problem; nothing is written then.
 */
export async function computeNodeFiles(site: SiteTree, options: ComputeNodeFilesOptions): Promise<NodeFiles[]> {
  const { nodeFiles, problems } = await collectNodeFiles(site, { ...options, ownersUnchecked: false, hosts: undefined });
  if (problems.length > 0) throw new ValidationError(problems);
  return nodeFiles;
}

/**
 * The problems `computeNodeFiles` would report for any image (`validate`): every node group is
 * taken as served, owner names are not checked against an image, and nothing is written.
 */
export async function nodeFileProblems(site: SiteTree, signal?: AbortSignal): Promise<Problem[]> {
  const { problems } = await collectNodeFiles(site, {
    served: () => ({ accounts: undefined }),
    generateHostKeys: false,
    signal,
    ownersUnchecked: true,
    hosts: undefined,
  });
  return problems;
}

/** One node's files (a preview: `nodes show`); throws like computeNodeFiles on bad input. */
export async function computeOneNode(
  site: SiteTree,
  host: string,
  options: ComputeNodeFilesOptions,
): Promise<{ files: NodeFiles | undefined; missingKey: boolean }> {
  const { nodeFiles, problems, missingKeys } = await collectNodeFiles(site, { ...options, ownersUnchecked: false, hosts: new Set([host]) });
  if (problems.length > 0) throw new ValidationError(problems);
  return { files: nodeFiles[0], missingKey: missingKeys.has(host) };
}

/** Where a variable's value comes from, for previews. */
export interface NodeVariable {
  value: unknown;
  from: string;
}

/** A node's variables, each with its source: built-ins, then site, group and node `vars` merged. */
export function nodeVariables(site: SiteTree, host: string): Record<string, NodeVariable> | undefined {
  const config = site.nodeConfig;
  const node = config?.nodes.find((item) => item.host === host);
  if (config === undefined || node === undefined) return undefined;
  const group = groupOf(site).get(host);
  const out: Record<string, NodeVariable> = {};
  for (const [name, value] of Object.entries(config.vars)) out[name] = { value, from: 'vars' };
  if (group !== undefined) {
    for (const [name, value] of Object.entries(config.groups[group.name]?.vars ?? {}))
      out[name] = { value, from: `nodeGroups.${group.name}.vars` };
  }
  for (const [name, value] of Object.entries(node.vars)) out[name] = { value, from: `nodes.${node.entries.join(' + nodes.')}` };
  const builtin = 'built-in';
  out.host = { value: host, from: builtin };
  out.mac = { value: node.mac, from: builtin };
  if (node.ip !== undefined) out.ip = { value: node.ip, from: builtin };
  if (group !== undefined) {
    out.group = { value: group.name, from: builtin };
    out.image = { value: group.image, from: builtin };
    out.channel = { value: group.channel, from: builtin };
  }
  out.nodes = { value: `(${config.nodes.length} nodes)`, from: builtin };
  out.ssh_known_hosts = { value: '(the known hosts of the cluster)', from: builtin };
  return out;
}

/** The cluster's ssh_known_hosts: one line per node of a `hostKeys: managed` group with a key, by host. */
export async function clusterKnownHosts(site: SiteTree, generate: boolean): Promise<string> {
  const { text } = await managedKeys(site, generate, undefined);
  return text;
}

function groupOf(site: SiteTree): Map<string, NodeGroup> {
  const map = new Map<string, NodeGroup>();
  for (const group of site.nodeGroups) {
    for (const member of group.members) if (member.host !== undefined) map.set(member.host, group);
  }
  return map;
}

const wantsFiles = (site: SiteTree, group: NodeGroup) => {
  const config = site.nodeConfig?.groups[group.name];
  return group.hostKeys === 'managed' || (config !== undefined && (config.nodeFiles.length > 0 || config.secrets.length > 0));
};

async function inBatches<T, R>(items: readonly T[], size: number, each: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let index = 0; index < items.length; index += size) {
    out.push(...(await Promise.all(items.slice(index, index + size).map(each))));
  }
  return out;
}

async function managedKeys(
  site: SiteTree,
  generate: boolean,
  signal: AbortSignal | undefined,
): Promise<{ keys: Map<string, HostKey>; text: string }> {
  const nodes = new Map((site.nodeConfig?.nodes ?? []).map((node) => [node.host, node]));
  const hosts = site.nodeGroups
    .filter((group) => group.hostKeys === 'managed')
    .flatMap((group) => group.members.flatMap((member) => (member.host === undefined ? [] : [member.host])));
  const keys = new Map<string, HostKey>();
  if (generate && hosts.length > 0) await makeHostKeysDir(site.secretsDir);
  const found = await inBatches(hosts, 64, async (host) => {
    signal?.throwIfAborted();
    const key = await readHostKey(site.secretsDir, host);
    return [host, key ?? (generate ? await generateHostKey(site.secretsDir, host, true) : undefined)] as const;
  });
  for (const [host, key] of found) if (key !== undefined) keys.set(host, key);
  const text = [...keys.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((host) => `${knownHostsLine(host, nodes.get(host)?.ip, keys.get(host)!.public)}\n`)
    .join('');
  return { keys, text };
}

interface CollectOptions extends ComputeNodeFilesOptions {
  ownersUnchecked: boolean;
  /** Only these nodes (a preview); all when undefined. */
  hosts: Set<string> | undefined;
}

const constantVars = new Set(['nodes', 'ssh_known_hosts']);

async function collectNodeFiles(
  site: SiteTree,
  options: CollectOptions,
): Promise<{ nodeFiles: NodeFiles[]; problems: Problem[]; missingKeys: Set<string> }> {
  const config = site.nodeConfig;
  const problems: Problem[] = [];
  const missingKeys = new Set<string>();
  const groups = site.nodeGroups.filter((group) => wantsFiles(site, group));
  if (config === undefined || groups.length === 0) return { nodeFiles: [], problems, missingKeys };

  const needsSecretsDir = groups.some((group) => group.hostKeys === 'managed' || (config.groups[group.name]?.secrets.length ?? 0) > 0);
  if (needsSecretsDir) {
    // Only managed keys and no secrets: a directory that does not exist yet is made with the first keys.
    const namesSecrets = groups.some((group) => (config.groups[group.name]?.secrets.length ?? 0) > 0);
    const dirProblems = await secretsDirProblems(
      site,
      config.secretsAt,
      options.generateHostKeys ? 'create' : namesSecrets ? 'require' : 'may-be-missing',
    );
    if (dirProblems.length > 0) return { nodeFiles: [], problems: dirProblems, missingKeys };
  }

  // Everything shared by all nodes: sets (templates parsed once), secrets, keys, the node list.
  const engine = nodeTemplateEngine();
  const sets = new Map<string, NodeFileSet | undefined>();
  const secrets = new Map<string, Buffer | undefined>();
  for (const group of groups) {
    const groupConfig = config.groups[group.name]!;
    for (const { name, at } of groupConfig.nodeFiles) {
      if (sets.has(name)) continue;
      const loaded = await loadNodeFileSet(config.repoRoot, name, at, engine);
      problems.push(...loaded.problems);
      sets.set(name, loaded.set);
    }
    for (const secret of groupConfig.secrets) {
      if (secrets.has(secret.name)) {
        if (secrets.get(secret.name) === undefined) problems.push({ ...secret.at, message: `no usable secret ${quoted(secret.name)}` });
        continue;
      }
      const read = await readSecret(site.secretsDir, secret.name);
      if (read.problem !== undefined)
        problems.push({ ...secret.at, message: read.problem, hint: 'put the file in the secrets directory (mode 0600)' });
      secrets.set(secret.name, read.content);
    }
  }
  const { keys, text: knownHosts } = await managedKeys(site, options.generateHostKeys, options.signal);
  const members = groupOf(site);
  const nodeList = config.nodes.map((node) => {
    const group = members.get(node.host);
    const item: Record<string, unknown> = {
      ...mergedVars(site, node, group),
      host: node.host,
      mac: node.mac,
      group: group?.name ?? '',
    };
    if (node.ip !== undefined) item.ip = node.ip;
    return item;
  });
  const nodesByHost = new Map(config.nodes.map((node) => [node.host, node]));
  const segments = new Map<ParsedTemplate, string[]>();
  const rendered = new Map<ParsedTemplate, Map<string, Buffer>>();
  const failed = new Set<ParsedTemplate>();
  const reported = new Set<string>();
  const once = (key: string, problem: Problem) => {
    if (reported.has(key)) return;
    reported.add(key);
    problems.push(problem);
  };

  const nodeFiles: NodeFiles[] = [];
  for (const group of groups) {
    const served = options.served(group.name);
    if (served === undefined) continue;
    const groupConfig = config.groups[group.name]!;
    const owner = (value: string | number | undefined, kind: 'user' | 'group', at: SettingLocation | Problem, where: string): number => {
      if (value === undefined || value === 'root' || value === 0) return 0;
      if (typeof value === 'number') return value;
      if (options.ownersUnchecked) return 0;
      const table = served.accounts?.[kind === 'user' ? 'users' : 'groups'];
      const id = table?.[value];
      if (id !== undefined && Object.hasOwn(table!, value)) return id;
      once(`owner ${group.name} ${where} ${kind} ${value}`, {
        ...at,
        message:
          table === undefined
            ? `${kind} ${quoted(value)} of ${where}: the image node group ${quoted(group.name)} boots records no accounts`
            : `${kind} ${quoted(value)} of ${where}: no such ${kind} in the image node group ${quoted(group.name)} boots`,
        hint: table === undefined ? 'rebuild the image (its manifest then records its users and groups), or give a numeric id' : undefined,
      });
      return 0;
    };
    for (const member of group.members) {
      const host = member.host;
      if (host === undefined) continue;
      if (options.hosts !== undefined && !options.hosts.has(host)) continue;
      options.signal?.throwIfAborted();
      const node = nodesByHost.get(host);
      if (node === undefined) continue;
      const scope: Record<string, unknown> = {
        ...mergedVars(site, node, group),
        host,
        mac: node.mac,
        group: group.name,
        image: group.image,
        channel: group.channel,
        nodes: nodeList,
        ssh_known_hosts: knownHosts,
      };
      if (node.ip !== undefined) scope.ip = node.ip;
      const files = new Map<string, NodeFile>();
      const add = (file: NodeFile) => {
        const previous = files.get(file.path);
        if (previous !== undefined) {
          if (previous.kind === 'directory' && file.kind === 'directory') {
            if (file.explicit === true && previous.explicit !== true) files.set(file.path, file);
            return;
          }
          once(`clash ${group.name} ${file.path}`, {
            ...groupConfig.at,
            message: `${quoted(file.path)} comes from both ${quoted(printable(previous.source), 80)} and ${quoted(printable(file.source), 80)} (node ${host})`,
            hint: 'give each path on a node one source',
          });
          return;
        }
        files.set(file.path, file);
      };
      for (const { name } of groupConfig.nodeFiles) {
        const set = sets.get(name);
        if (set === undefined) continue;
        for (const entry of set.entries) {
          const meta = metaFor(set.meta, entry.path);
          const uid = owner(meta.owner, 'user', meta.at ?? groupConfig.at, entry.path);
          const gid = owner(meta.group, 'group', meta.at ?? groupConfig.at, entry.path);
          if (entry.kind === 'directory') {
            add({
              path: entry.path,
              kind: 'directory',
              uid,
              gid,
              mode: meta.mode ?? 0o755,
              source: entry.source,
              secret: false,
              explicit: meta.at !== undefined,
            });
            continue;
          }
          const content = entry.template === undefined ? entry.content! : render(entry, scope, host);
          if (content === undefined) continue;
          add({
            path: entry.path,
            kind: 'file',
            content,
            uid,
            gid,
            mode: meta.mode ?? (entry.executable ? 0o755 : 0o644),
            source: entry.source,
            secret: false,
          });
        }
      }
      for (const secret of groupConfig.secrets) {
        const content = secrets.get(secret.name);
        if (content === undefined) continue;
        add({
          path: secret.path,
          kind: 'file',
          content,
          uid: owner(secret.owner, 'user', secret.at, `secret ${secret.name}`),
          gid: owner(secret.group, 'group', secret.at, `secret ${secret.name}`),
          mode: secret.mode,
          source: `secret ${secret.name}`,
          secret: true,
        });
      }
      if (group.hostKeys === 'managed') {
        const key = keys.get(host);
        if (key === undefined) missingKeys.add(host);
        else {
          const base = { kind: 'file' as const, uid: 0, gid: 0, source: managedKeySource };
          add({ ...base, path: managedHostKeyPath, content: key.private, mode: 0o600, secret: true });
          add({ ...base, path: `${managedHostKeyPath}.pub`, content: Buffer.from(`${key.public}\n`), mode: 0o644, secret: false });
          add({
            ...base,
            path: managedHostKeyConfPath,
            content: Buffer.from(`HostKey ${managedHostKeyPath}\n`),
            mode: 0o644,
            secret: false,
          });
        }
      }
      const sorted = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const size = sorted.reduce((sum, file) => sum + (file.content?.length ?? 0) + 512, 0);
      if (size > config.archiveLimit) {
        once(`limit ${group.name}`, {
          ...groupConfig.at,
          message: `the archive of node ${host} would be ${size} bytes, over the limit of ${config.archiveLimit} (nodeArchiveLimit)`,
          hint: 'keep large files in the image; raise `nodeArchiveLimit` only if the nodes must get them at boot',
        });
      }
      nodeFiles.push({ host, mac: node.mac, group: group.name, files: sorted });
    }
  }
  return { nodeFiles, problems, missingKeys };

  function render(entry: SetEntry, scope: Record<string, unknown>, host: string): Buffer | undefined {
    const template = entry.template!;
    if (failed.has(template)) return undefined;
    let roots = segments.get(template);
    if (roots === undefined) {
      try {
        roots = [...new Set(engine.globalVariableSegmentsSync(template).map((segment) => String(segment[0])))].sort();
      } catch {
        roots = ['host'];
      }
      segments.set(template, roots);
    }
    // The output depends only on the variables the template names: nodes alike in those share it.
    const key = JSON.stringify(roots.map((root) => (constantVars.has(root) ? root : [root, scope[root] ?? null])));
    let cache = rendered.get(template);
    if (cache === undefined) {
      cache = new Map();
      rendered.set(template, cache);
    }
    // Nodes alike share one Buffer: node files are never modified once made.
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    try {
      const content = Buffer.from(engine.renderSync(template, scope) as string);
      cache.set(key, content);
      return content;
    } catch (error) {
      failed.add(template);
      const located = templateError(error);
      problems.push({
        file: entry.source,
        line: located.line,
        column: located.column,
        path: '',
        message: `${printable(located.message)} (rendering for node ${host})`,
      });
      return undefined;
    }
  }
}

function mergedVars(site: SiteTree, node: SiteNode, group: NodeGroup | undefined): Record<string, VarValue> {
  const config = site.nodeConfig!;
  return { ...config.vars, ...(group === undefined ? {} : config.groups[group.name]?.vars), ...node.vars };
}

/** Owner, group and mode of a set entry from the set's metadata: the last entry naming it (or a recursive parent) wins. */
function metaFor(
  meta: readonly MetaEntry[],
  file: string,
): { owner: string | number | undefined; group: string | number | undefined; mode: number | undefined; at: SettingLocation | undefined } {
  const out: ReturnType<typeof metaFor> = { owner: undefined, group: undefined, mode: undefined, at: undefined };
  for (const entry of meta) {
    if (entry.path !== file && !(entry.recursive && file.startsWith(`${entry.path}/`))) continue;
    out.owner = entry.owner ?? out.owner;
    out.group = entry.group ?? out.group;
    out.mode = entry.mode ?? out.mode;
    out.at = entry.at;
  }
  return out;
}
