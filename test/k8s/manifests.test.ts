import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { Workflow, WorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1';
import { Namespace, PersistentVolumeClaim, Pod, ServiceAccount } from 'kubernetes-models/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';

import { podManifest } from '../../src/executors/kubernetes/pod-manifest.js';
import { projectRoot, runCli } from '../helpers/cli.js';

/** Every manifest pxeforge ships or renders, validated offline against the Kubernetes and Argo schemas. */
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Pod': Pod,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'argoproj.io/v1alpha1/WorkflowTemplate': WorkflowTemplate,
  'argoproj.io/v1alpha1/Workflow': Workflow,
};

function validate(document: { apiVersion: string; kind: string }): void {
  const Model = models[`${document.apiVersion}/${document.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${document.apiVersion}/${document.kind}`);
  new Model(document as never).validate();
}

async function documents(file: string): Promise<{ apiVersion: string; kind: string; [key: string]: unknown }[]> {
  return parseAllDocuments(await readFile(path.join(projectRoot, file), 'utf8')).map(
    (doc) => doc.toJS() as { apiVersion: string; kind: string },
  );
}

describe('deploy/', () => {
  it('namespace, RBAC and PVC validate; the namespace allows privileged pods; the Role is minimal', async () => {
    const all = [
      ...(await documents('deploy/namespace.yaml')),
      ...(await documents('deploy/rbac.yaml')),
      ...(await documents('deploy/pvc.yaml')),
    ];
    expect(all.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'PersistentVolumeClaim']);
    for (const document of all) validate(document);
    const namespace = all[0] as unknown as { metadata: { labels: Record<string, string> } };
    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    const role = all[2] as unknown as { rules: { resources: string[]; verbs: string[] }[] };
    expect(role.rules.map((r) => [r.resources.join(), r.verbs.join()])).toEqual([
      ['pods', 'create,get,list,watch,delete'],
      ['pods/log', 'get'],
      ['pods/exec', 'create,get'],
      ['events', 'list,watch'],
    ]);
  });

  it('a broken manifest does not validate (the check can fail)', () => {
    expect(() =>
      validate({
        apiVersion: 'v1',
        kind: 'Pod',
        spec: { containers: [{ name: 'x', image: 'y', securityContext: { privileged: 'yes' } }] },
      } as never),
    ).toThrow(/privileged must be boolean/);
  });

  it('the Argo Events sensor submits a valid Workflow running the pipeline', async () => {
    const [sensor] = await documents('deploy/argo/events-sensor.yaml');
    expect(sensor!.kind).toBe('Sensor');
    const trigger = (
      sensor as unknown as {
        spec: {
          triggers: {
            template: { argoWorkflow: { source: { resource: { spec: { templates: { container: { args: string[] } }[] } } } } };
          }[];
        };
      }
    ).spec.triggers[0]!;
    const workflow = trigger.template.argoWorkflow.source.resource;
    validate(workflow as never);
    expect(workflow.spec.templates[0]!.container.args.join(' ')).toContain(
      'pxeforge pipeline --changed-since "{{inputs.parameters.before}}"',
    );
  });

  it('the builder image installs every package `pxeforge doctor` checks for', async () => {
    // The Containerfile installs the list of deploy/builder-packages (test/k8s/builder-image.test.ts).
    const containerfile = await readFile(path.join(projectRoot, 'deploy/Containerfile'), 'utf8');
    expect(containerfile).toMatch(/^COPY deploy\/builder-packages /m);
    const list = (await readFile(path.join(projectRoot, 'deploy/builder-packages'), 'utf8'))
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim());
    const doctor = await runCli(['--json', 'doctor']);
    const packages = new Set((JSON.parse(doctor.stdout) as { tools: { package: string }[] }).tools.map((t) => t.package));
    for (const name of packages) expect(list, name).toContain(name);
    // Debian trixie's nodejs is 20 (package.json's engines: >= 20.5); bookworm's is 18.
    expect(containerfile).toMatch(/^ARG DEBIAN_RELEASE=trixie$/m);
    expect(list).toContain('nodejs');
  });

  it('CI examples run the pipeline on what changed', async () => {
    for (const file of ['deploy/ci/gitlab-ci.yml', 'deploy/ci/github-actions.yml']) {
      const text = await readFile(path.join(projectRoot, file), 'utf8');
      expect(() => parse(text)).not.toThrow();
      expect(text).toContain('pxeforge pipeline --changed-since "$since" --promote-to staging');
    }
  });
});

describe('pxeforge render argo', () => {
  it('renders a valid WorkflowTemplate: build → boot test → staging → approval → promote', async () => {
    const result = await runCli(['render', 'argo', 'recipes/compute.yaml']);
    expect(result.exitCode, result.stderr).toBe(0);
    const template = parse(result.stdout) as {
      kind: string;
      spec: {
        templates: {
          name: string;
          dag?: { tasks: { name: string; dependencies?: string[] }[] };
          suspend?: object;
          container?: { securityContext: object; resources?: { limits: Record<string, string> }; args: string[] };
        }[];
      };
    };
    validate(template as never);
    const [main, build, test, approve, promote] = template.spec.templates;
    expect(main!.dag!.tasks.map((t) => [t.name, t.dependencies?.join() ?? ''])).toEqual([
      ['build', ''],
      ['boot-test', 'build'],
      ['to-staging', 'boot-test'],
      ['approve', 'to-staging'],
      ['promote', 'approve'],
    ]);
    expect(build!.container!.securityContext).toEqual({ privileged: true });
    expect(build!.container!.args[0]).toContain(
      'pxeforge --json build recipes/compute.yaml --cache-dir /var/lib/pxeforge/cache --work-dir /var/lib/pxeforge/work',
    );
    expect((build!.container as unknown as { volumeMounts: { name: string }[] }).volumeMounts.map((m) => m.name)).toEqual([
      'shared',
      'local',
    ]);
    expect((template.spec as unknown as { volumes: { name: string }[] }).volumes.map((v) => v.name)).toEqual(['shared', 'local']);
    expect(test!.container!.securityContext).toEqual({ privileged: false, allowPrivilegeEscalation: false });
    expect(test!.container!.resources!.limits['devices.kubevirt.io/kvm']).toBe('1');
    expect(approve).toEqual({ name: 'approve', suspend: {} });
    expect(promote!.container!.args[0]).toContain(
      'pxeforge promote compute@{{inputs.parameters.version}} --channel {{inputs.parameters.channel}}',
    );
  });

  it('an arm64 recipe builds and boot-tests on arm64 nodes: kubernetes.io/arch, beside the site nodeSelector', async () => {
    const config = {
      namespace: 'pxeforge',
      image: 'pxeforge-builder:0.1.0',
      storage: { pvc: 'pxeforge-shared', mountPath: '/srv/pxeforge' },
      nodeSelector: { 'pxeforge.io/builder': 'true', 'kubernetes.io/arch': 'amd64' },
    };
    for (const kind of ['build', 'test'] as const) {
      const arm = podManifest({ kind, image: 'tiny-arm64', runId: 'r', arch: 'arm64', command: ['pxeforge'], config });
      validate(arm as never);
      // The image's architecture wins over the site's: its programs run natively there, and KVM needs it.
      expect(arm.spec!.nodeSelector).toEqual({ 'pxeforge.io/builder': 'true', 'kubernetes.io/arch': 'arm64' });
      const { nodeSelector: _, ...plain } = config;
      const amd = podManifest({ kind, image: 'tiny', runId: 'r', arch: 'amd64', command: ['pxeforge'], config: plain });
      expect(amd.spec!.nodeSelector).toEqual({ 'kubernetes.io/arch': 'amd64' });
    }
    // And the Argo template of an arm64 recipe puts each step on arm64 nodes.
    const result = await runCli(['render', 'argo', 'recipes/tiny-arm64.yaml']);
    expect(result.exitCode, result.stderr).toBe(0);
    const steps = (parse(result.stdout) as { spec: { templates: { name: string; nodeSelector?: Record<string, string> }[] } }).spec
      .templates;
    expect(steps.filter((step) => step.nodeSelector !== undefined).map((step) => [step.name, step.nodeSelector])).toEqual(
      ['build', 'boot-test', 'promote'].map((name) => [name, { 'kubernetes.io/arch': 'arm64' }]),
    );
  });

  it('build pods mount node-local storage for the cache and work trees: an emptyDir (size-limited) or a hostPath', () => {
    const config = {
      namespace: 'pxeforge',
      image: 'pxeforge-builder:0.1.0',
      storage: { pvc: 'pxeforge-shared', mountPath: '/srv/pxeforge' },
    };
    const pod = (local?: { emptyDir: { sizeLimit?: string } } | { hostPath: string }) =>
      podManifest({ kind: 'build', image: 'tiny', runId: 'r', arch: 'amd64', command: ['pxeforge'], config: { ...config, local } });
    const shared = { name: 'shared', persistentVolumeClaim: { claimName: 'pxeforge-shared' } };
    for (const [local, volume] of [
      [undefined, { name: 'local', emptyDir: {} }],
      [{ emptyDir: { sizeLimit: '50Gi' } }, { name: 'local', emptyDir: { sizeLimit: '50Gi' } }],
      [{ hostPath: '/var/lib/pxeforge' }, { name: 'local', hostPath: { path: '/var/lib/pxeforge', type: 'DirectoryOrCreate' } }],
    ] as const) {
      const manifest = pod(local);
      validate(manifest as never);
      expect(manifest.spec!.volumes).toEqual([shared, volume]);
      expect(manifest.spec!.containers[0]!.volumeMounts).toEqual([
        { name: 'shared', mountPath: '/srv/pxeforge' },
        { name: 'local', mountPath: '/var/lib/pxeforge' },
      ]);
    }
    // A boot test reads the store only: no node-local volume.
    const test = podManifest({ kind: 'test', image: 'tiny', runId: 'r', arch: 'amd64', command: ['pxeforge'], config });
    expect(test.spec!.volumes).toEqual([shared]);
    expect(test.spec!.containers[0]!.volumeMounts).toEqual([{ name: 'shared', mountPath: '/srv/pxeforge' }]);
  });

  it('boot-test pods validate, ask for KVM only when configured, and are not privileged', () => {
    const config = {
      namespace: 'pxeforge',
      image: 'pxeforge-builder:0.1.0',
      storage: { hostPath: '/srv/pxeforge', mountPath: '/srv/pxeforge' },
    };
    const pod = podManifest({
      kind: 'test',
      image: 'tiny',
      version: '20261125T120000Z-3fa9c1d2',
      runId: 'r',
      arch: 'amd64',
      command: ['pxeforge'],
      config,
    });
    validate(pod as never);
    expect(pod.spec!.containers[0]!.resources).toBeUndefined();
    expect(pod.spec!.volumes).toEqual([{ name: 'shared', hostPath: { path: '/srv/pxeforge', type: 'Directory' } }]);
    const kvm = podManifest({
      kind: 'test',
      image: 'tiny',
      runId: 'r',
      arch: 'amd64',
      command: ['pxeforge'],
      config: { ...config, kvm: true },
    });
    expect(kvm.spec!.containers[0]!.resources!.limits).toEqual({ 'devices.kubevirt.io/kvm': '1' });
  });
});
