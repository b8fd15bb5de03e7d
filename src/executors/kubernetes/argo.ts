import type { Recipe } from '../../recipe/recipe.js';
import type { SiteExecutors } from '../../site/site-config.js';
import { podLocalDirs, podManifest } from './pod-manifest.js';

/**
 * `pxeforge render argo <recipe>`: an Argo WorkflowTemplate for one recipe — build (privileged)
 * → boot test → suspend until a person approves → promote. Each step runs pxeforge in the
 * builder image against the shared store, with the recipe repository cloned at the revision
 * the workflow is submitted with. Pod settings (image, storage, resources, deadlines,
 * scheduling, KVM, node-local storage) come from pxeforge.yaml's `kubernetes` section, as
 * for the executor: the build step keeps its step cache and work trees on the node-local
 * volume.
 */
export function argoWorkflowTemplate(recipe: Recipe, site: SiteExecutors, recipeFile: string): Record<string, unknown> {
  const config = site.kubernetes!;
  const podFor = (kind: 'build' | 'test') =>
    podManifest({ kind, image: recipe.name, runId: '{{workflow.uid}}', arch: recipe.base.arch, command: [], config });
  const build = podFor('build');
  const test = podFor('test');
  const clone =
    'git clone --quiet "{{workflow.parameters.repository}}" /recipes && git -C /recipes checkout --quiet "{{workflow.parameters.revision}}" && cd /recipes';
  const step = (name: string, pod: ReturnType<typeof podFor>, script: string, extra: Record<string, unknown> = {}) => {
    const container = pod.spec!.containers[0]!;
    return {
      name,
      activeDeadlineSeconds: pod.spec!.activeDeadlineSeconds,
      ...(pod.spec!.nodeSelector ? { nodeSelector: pod.spec!.nodeSelector } : {}),
      ...(pod.spec!.tolerations ? { tolerations: pod.spec!.tolerations } : {}),
      automountServiceAccountToken: false,
      metadata: { labels: pod.metadata!.labels },
      container: {
        name: 'main',
        image: container.image,
        command: ['sh', '-ec'],
        args: [script],
        env: [{ name: 'CI', value: 'true' }],
        securityContext: container.securityContext,
        ...(container.resources ? { resources: container.resources } : {}),
        volumeMounts: container.volumeMounts,
      },
      ...extra,
    };
  };
  const version = '{{tasks.build.outputs.parameters.version}}';
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: `pxeforge-${recipe.name}`,
      namespace: config.namespace,
      labels: { 'app.kubernetes.io/name': 'pxeforge', 'pxeforge.io/recipe': recipe.name },
    },
    spec: {
      serviceAccountName: 'pxeforge',
      entrypoint: 'image',
      arguments: {
        parameters: [
          { name: 'repository', description: 'git URL of the recipe repository' },
          { name: 'revision', value: 'main' },
          { name: 'channel', value: 'production', description: 'channel to promote to once approved' },
          { name: 'staging', value: 'staging', description: 'unprotected channel the tested version goes to first' },
        ],
      },
      volumes: build.spec!.volumes,
      templates: [
        {
          name: 'image',
          // A DAG rather than steps: each task waits for the one before it.
          dag: {
            tasks: [
              { name: 'build', template: 'build' },
              {
                name: 'boot-test',
                template: 'boot-test',
                dependencies: ['build'],
                arguments: { parameters: [{ name: 'version', value: version }] },
              },
              {
                name: 'to-staging',
                template: 'promote',
                dependencies: ['boot-test'],
                arguments: {
                  parameters: [
                    { name: 'version', value: version },
                    { name: 'channel', value: '{{workflow.parameters.staging}}' },
                  ],
                },
              },
              { name: 'approve', template: 'approve', dependencies: ['to-staging'] },
              {
                name: 'promote',
                template: 'promote',
                dependencies: ['approve'],
                arguments: {
                  parameters: [
                    { name: 'version', value: version },
                    { name: 'channel', value: '{{workflow.parameters.channel}}' },
                  ],
                },
              },
            ],
          },
        },
        step(
          'build',
          build,
          `${clone} && pxeforge --json build ${recipeFile} --cache-dir ${podLocalDirs.cache} --work-dir ${podLocalDirs.work} | tee /tmp/build.jsonl && tail -n 1 /tmp/build.jsonl | sed -n 's/.*"version":"\\([^"]*\\)".*/\\1/p' > /tmp/version`,
          {
            outputs: { parameters: [{ name: 'version', valueFrom: { path: '/tmp/version' } }] },
          },
        ),
        step('boot-test', test, `${clone} && pxeforge test ${recipe.name}@{{inputs.parameters.version}}`, {
          inputs: { parameters: [{ name: 'version' }] },
        }),
        { name: 'approve', suspend: {} },
        step(
          'promote',
          test,
          `${clone} && pxeforge promote ${recipe.name}@{{inputs.parameters.version}} --channel {{inputs.parameters.channel}} --reason "argo {{workflow.name}}"`,
          {
            inputs: { parameters: [{ name: 'version' }, { name: 'channel' }] },
          },
        ),
      ],
    },
  };
}
