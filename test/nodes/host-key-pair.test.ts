import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';

import { newEd25519KeyPair } from '../../src/nodes/host-keys.js';

describe('newEd25519KeyPair', () => {
  it('makes only keys that load: a 32-byte public key, a private key ssh2 parses', () => {
    // ssh2's own generator gets about one in 256 wrong; 3,000 pairs meet that case ~12 times.
    for (let i = 0; i < 3000; i += 1) {
      const pair = newEd25519KeyPair(`cn${i}`);
      expect(Buffer.from(pair.public.split(' ')[1]!, 'base64')).toHaveLength(51);
      const parsed = ssh2.utils.parseKey(pair.private);
      expect(parsed).not.toBeInstanceOf(Error);
      expect((parsed as ssh2.ParsedKey).getPublicSSH().equals(Buffer.from(pair.public.split(' ')[1]!, 'base64'))).toBe(true);
    }
  });
});
