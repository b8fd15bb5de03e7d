import { describe, expect, it } from 'vitest';

import { stampKey } from '../../src/executors/kubernetes/run-pod.js';
import { kubeStamp, quantityBytes } from '../helpers/podman-kubelet.js';

describe("the container kubelet's conversions", () => {
  it("podman's log timestamps become Kubernetes' RFC3339Nano in UTC, ordered like the executor compares them", () => {
    expect(kubeStamp('2026-11-26T00:29:23.739947491Z')).toBe('2026-11-26T00:29:23.739947491Z');
    expect(kubeStamp('2026-11-26T00:29:23.739940000Z')).toBe('2026-11-26T00:29:23.73994Z');
    expect(kubeStamp('2026-11-26T00:29:23.000000000Z')).toBe('2026-11-26T00:29:23Z');
    expect(kubeStamp('2026-11-26T01:29:23.5+01:00')).toBe('2026-11-26T00:29:23.5Z');
    const stamps = ['2026-11-26T00:29:23.000000009Z', '2026-11-26T00:29:23.1Z', '2026-11-26T00:29:24Z'].map(kubeStamp);
    expect(stamps.map(stampKey)).toEqual([...stamps.map(stampKey)].sort());
    expect(() => kubeStamp('yesterday')).toThrow(/not a timestamp/);
  });

  it('memory quantities in bytes', () => {
    expect(quantityBytes('48Mi')).toBe(48 * 2 ** 20);
    expect(quantityBytes('2Gi')).toBe(2 * 2 ** 30);
    expect(quantityBytes('1.5G')).toBe(1.5e9);
    expect(quantityBytes('100000')).toBe(100000);
    expect(() => quantityBytes('lots')).toThrow(/not a memory quantity/);
  });
});
