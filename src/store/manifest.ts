export type { Artifact, Manifest, RecipeSnapshot } from './manifest-schema.js';

export { kernelCmdline, rootfsUrlPlaceholder } from '../recipe/cmdline-size.js';
