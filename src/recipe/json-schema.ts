import { z } from 'zod';

import { siteConfigSchema } from '../site/schema.js';
import { packageSetSchema, recipeFileSchema } from './schema.js';

/**
 * JSON Schemas for editors (yaml-language-server), generated from the zod schemas that
 * validate the files, so the two cannot drift apart. A test fails when a committed copy
 * differs from what this generates (`pxeforge schema` rewrites them).
 */
export const schemaFiles = {
  'recipes/recipe.schema.json': recipeFileSchema,
  'recipes/package-set.schema.json': packageSetSchema,
  'recipes/site.schema.json': siteConfigSchema,
} as const;

export function renderJsonSchema(schema: z.ZodType, id: string): string {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...json, $id: id }, null, 2)}\n`;
}
