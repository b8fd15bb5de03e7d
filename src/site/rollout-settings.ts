import { quoted } from '../errors/quote-text.js';
import { checkPatternError } from '../recipe/check-pattern.js';
import type { RecipeCheck } from '../recipe/schema.js';
import { rebootTemplateProblems } from './reboot-template.js';
import type { SiteConfigFile } from './schema.js';

/** How `pxeforge rollout` reboots nodes and judges their health (`rollout:` of pxeforge.yaml). */
export interface RolloutSettings {
  /** The reboot command template (argv, no shell); undefined when not set (then `rollout start` refuses). */
  reboot: string[] | undefined;
  /** Site-wide health checks; [] when none. */
  checks: RecipeCheck[];
  /** From a wave's reboot until its nodes booted the new version and passed their checks. */
  healthTimeoutMs: number;
  /** How long one reboot command may run. */
  rebootTimeoutMs: number;
}

export const defaultHealthTimeoutSeconds = 900;
export const defaultRebootTimeoutSeconds = 120;

type Report = (fieldPath: PropertyKey[], message: string, hint?: string) => void;

/** The `rollout:` settings, every problem of the reboot template and the checks located. */
export function resolveRolloutSettings(config: SiteConfigFile, report: Report): RolloutSettings {
  const settings = config.rollout;
  if (settings?.reboot !== undefined) {
    for (const problem of rebootTemplateProblems(settings.reboot))
      report(['rollout', 'reboot', ...(problem.index === undefined ? [] : [problem.index])], problem.message, problem.hint);
  }
  const seen = new Set<string>();
  for (const [index, check] of (settings?.checks ?? []).entries()) {
    const at = ['rollout', 'checks', index];
    if (seen.has(check.name))
      report([...at, 'name'], `two checks are named ${quoted(check.name)}`, 'check names must be unique (they name the results)');
    seen.add(check.name);
    if (check.expect !== undefined && check.match !== undefined)
      report(at, 'a check takes `expect` (exact output) or `match` (regular expression), not both');
    const patternError = check.match === undefined ? undefined : checkPatternError(check.match);
    if (patternError !== undefined)
      report(
        [...at, 'match'],
        `not a valid RE2 pattern (checks run on RE2, a linear-time engine): ${patternError}`,
        'RE2 has no backreferences (\\1) or lookaround ((?=...), (?<=...)); see https://github.com/google/re2/wiki/Syntax',
      );
  }
  return {
    reboot: settings?.reboot,
    checks: settings?.checks ?? [],
    healthTimeoutMs: (settings?.healthTimeoutSeconds ?? defaultHealthTimeoutSeconds) * 1000,
    rebootTimeoutMs: (settings?.rebootTimeoutSeconds ?? defaultRebootTimeoutSeconds) * 1000,
  };
}
