import { Liquid, type Template } from 'liquidjs';

/**
 * The template engine of node files: LiquidJS, sandboxed. Templates see only the variables
 * given (own properties, no prototypes), every unknown variable or filter is an error, time
 * and memory are limited, and no template reads a file: `include`, `render` and `layout` are
 * refused when the template is parsed, and the engine's file lookup knows no template at all.
 */
const refusedTags = ['include', 'render', 'layout'] as const;

export function nodeTemplateEngine(): Liquid {
  const engine = new Liquid({
    templates: {},
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    lenientIf: true,
    relativeReference: false,
    parseLimit: 1_000_000,
    renderLimit: 2_000,
    memoryLimit: 64 * 1024 * 1024,
  });
  for (const tag of refusedTags) {
    engine.registerTag(tag, {
      parse() {
        throw new Error(`\`${tag}\` is not available in node files: a template reads no other file`);
      },
      render() {},
    });
  }
  return engine;
}

/** A template error as a problem: where LiquidJS puts it, and its message without its own location suffix. */
export function templateError(error: unknown): { line?: number; column?: number; message: string } {
  const liquidError = error as { token?: { getPosition?: () => [number, number] }; message?: string };
  const position = liquidError.token?.getPosition?.();
  const message = String(liquidError.message ?? error).replace(/, line:\d+, col:\d+$/, '');
  return position === undefined ? { message } : { line: position[0], column: position[1], message };
}

export type ParsedTemplate = Template[];
