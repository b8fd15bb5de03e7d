import type { SiteTree } from '../site/site-config.js';
import type { Accounts, NodeFiles } from './node-file.js';

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

/**
 * Every file each member of a node group with node files receives, in node order. Bad input
 * (an unknown variable, a missing secret, a path leaving `/`, loose secrets permissions…)
 * throws one UserError listing every located problem; nothing is written then.
 */
export async function computeNodeFiles(site: SiteTree, options: ComputeNodeFilesOptions): Promise<NodeFiles[]> {
  void site;
  void options;
  return [];
}
