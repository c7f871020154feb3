import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GenerateRequest, protoRoot } from './index.js';

describe('@trine/proto', () => {
  it('round-trips a request with optional fields left absent', () => {
    const bytes = GenerateRequest.encode({ ...GenerateRequest.fromPartial({ prompt: 'hi', seed: 7n, stop: ['\n'] }) }).finish();
    const back = GenerateRequest.decode(bytes);
    expect(back.prompt).toBe('hi');
    expect(back.seed).toBe(7n);
    expect(back.stop).toEqual(['\n']);
    expect(back.temperature).toBeUndefined();
    expect(back.maxTokens).toBeUndefined();
  });

  it('committed src/gen matches what the codegen script produces from the .proto', () => {
    const out = mkdtempSync(join(tmpdir(), 'trine-proto-'));
    try {
      execFileSync(join(protoRoot, 'node_modules/.bin/buf'), ['generate', '-o', out], { cwd: protoRoot });
      const fresh = readFileSync(join(out, 'src/gen/trine/v1/inference.ts'), 'utf8');
      const committed = readFileSync(join(protoRoot, 'src/gen/trine/v1/inference.ts'), 'utf8');
      expect(fresh).toBe(committed);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
