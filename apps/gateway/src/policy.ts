/**
 * Pluggable content policy on prompts and responses. Off by default; the built-in example is a blocklist of
 * case-insensitive substrings (TRINE_POLICY_BLOCKLIST: comma-separated words, or a file with one per line).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ChatMessage } from '@trine/core';

export type PolicyVerdict = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export interface ContentPolicy {
  readonly name: string;
  checkPrompt(input: { prompt?: string; messages?: readonly ChatMessage[] }): PolicyVerdict;
  /** Called with the response text so far (streamed); a refusal ends the stream. */
  checkResponse(text: string): PolicyVerdict;
}

export const allowAll: ContentPolicy = {
  name: 'off',
  checkPrompt: () => ({ allowed: true }),
  checkResponse: () => ({ allowed: true }),
};

export class BlocklistPolicy implements ContentPolicy {
  readonly name = 'blocklist';
  private readonly terms: string[];

  constructor(terms: readonly string[]) {
    this.terms = terms.map((t) => t.toLowerCase()).filter((t) => t.length > 0);
  }

  private scan(text: string, where: string): PolicyVerdict {
    const lower = text.toLowerCase();
    const hit = this.terms.find((t) => lower.includes(t));
    return hit === undefined ? { allowed: true } : { allowed: false, reason: `${where} contains a blocked term` };
  }

  checkPrompt(input: { prompt?: string; messages?: readonly ChatMessage[] }): PolicyVerdict {
    if (input.prompt !== undefined) return this.scan(input.prompt, 'prompt');
    for (const [i, m] of (input.messages ?? []).entries()) {
      const v = this.scan(m.content, `messages[${i}].content`);
      if (!v.allowed) return v;
    }
    return { allowed: true };
  }

  checkResponse(text: string): PolicyVerdict {
    return this.scan(text, 'response');
  }
}

export function policyFromEnv(spec: string | undefined): ContentPolicy {
  if (!spec) return allowAll;
  const terms = existsSync(spec) ? readFileSync(spec, 'utf8').split(/\r?\n/) : spec.split(',');
  return new BlocklistPolicy(terms.map((t) => t.trim()));
}
