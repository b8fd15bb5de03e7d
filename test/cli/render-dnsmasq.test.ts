import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { dnsmasqHostLines } from '../../src/site/dnsmasq-hosts.js';
import { copyFixtureRepo, projectRoot, runCli } from '../helpers/cli.js';
import { writeUnder } from '../helpers/node-archive.js';

let repo: { root: string; remove(): Promise<void> };

const siteYaml = `store: var/store
tftpRoot: var/tftp
nodes:
  "cn[01-02]": { mac: "52:54:00:00:10:{n:02x}", ip: "10.0.0.{n}/24" }
  login1: { mac: "52-54-00-AA-00-01", ip: "10.0.0.250" }
  spare1: "52:54:00:00:20:01"
  v6node: { mac: "52:54:00:00:30:01", ip: "fd00::5/64" }
nodeGroups:
  compute:
    image: base
    channel: staging
    hosts: ["cn[01-02]"]
    macs: ["52:54:00:00:40:01"]
`;

beforeEach(async () => {
  repo = await copyFixtureRepo();
  await writeUnder(repo.root, 'pxeforge.yaml', siteYaml);
});
afterEach(async () => {
  await repo.remove();
});

const cli = (...args: string[]) => runCli(['--repo', repo.root, ...args]);

describe('pxeforge render dnsmasq', () => {
  it('one dhcp-host line per node of the table: fixed IPv4 address and name, or the name alone', async () => {
    const result = await cli('render', 'dnsmasq');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => !line.startsWith('#') && line !== '');
    expect(lines).toEqual([
      'dhcp-host=52:54:00:00:10:01,10.0.0.1,cn01',
      'dhcp-host=52:54:00:00:10:02,10.0.0.2,cn02',
      'dhcp-host=52:54:00:aa:00:01,10.0.0.250,login1',
      'dhcp-host=52:54:00:00:20:01,spare1',
      'dhcp-host=52:54:00:00:30:01,v6node',
    ]);
    expect(result.stdout).toMatch(/^# Rendered by pxeforge render dnsmasq/);
    expect(result.stdout).toContain('# v6node: its ip fd00::5 is IPv6');
  });

  it('refuses a site config with problems, naming them', async () => {
    await writeUnder(repo.root, 'pxeforge.yaml', siteYaml.replace('ip: "10.0.0.250"', 'ip: "10.0.0.300"'));
    const result = await cli('render', 'dnsmasq');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('is not an address');
    expect(result.stdout).toBe('');
  });

  it('a name that is not a DNS name is left out, with a comment', () => {
    const text = dnsmasqHostLines(
      [
        { host: 'cn-01', mac: '52:54:00:00:10:01', ip: '10.0.0.1/24' },
        { host: 'bad_name', mac: '52:54:00:00:10:02', ip: '10.0.0.2' },
      ],
      'header',
    );
    expect(text).toContain('dhcp-host=52:54:00:00:10:01,10.0.0.1,cn-01\n');
    expect(text).not.toContain('dhcp-host=52:54:00:00:10:02');
    expect(text).toContain('# 52:54:00:00:10:02: left out');
  });

  it('the shipped DHCP example with the rendered hosts is a configuration dnsmasq accepts', async () => {
    const hosts = path.join(repo.root, 'hosts.conf');
    await writeFile(hosts, (await cli('render', 'dnsmasq')).stdout);
    const example = await readFile(path.join(projectRoot, 'deploy/servers/dnsmasq-pxeforge-dhcp.conf'), 'utf8');
    const conf = path.join(repo.root, 'dnsmasq.conf');
    await writeFile(conf, example.replace(/^conf-file=.*$/m, `conf-file=${hosts}`).replace(/^tftp-root=.*$/m, `tftp-root=${repo.root}`));
    const checked = await execa('dnsmasq', ['--test', `--conf-file=${conf}`], { reject: false, all: true });
    expect(checked.all).toContain('syntax check OK');
    expect(checked.exitCode).toBe(0);
    // dnsmasq reads the included hosts file: what it cannot parse there fails the check.
    await writeFile(hosts, 'no-such-directive=1\n');
    const broken = await execa('dnsmasq', ['--test', `--conf-file=${conf}`], { reject: false, all: true });
    expect(broken.all).toContain(`bad option at line 1 of ${hosts}`);
  });
});
