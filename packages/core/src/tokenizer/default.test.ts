import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openGguf } from '../formats/gguf/reader.js';
import { fixturePath, haveFixtures } from '../formats/test-support/fixtures.js';
import { tokenizerSpecFromGguf } from './from-gguf.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BITNET_2B4T_CHAT_TEMPLATE, encodeChat, renderChat } from './chat.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { DEFAULT_TOKENIZER_CORPUS } from './default-corpus.js';
import {
  DEFAULT_SPECIAL_TOKENS,
  DEFAULT_VOCAB_SIZE,
  buildDefaultTokenizerSpec,
  createDefaultTokenizerSpec,
  trainByteLevelBpe,
} from './default.js';
import { createTokenizer } from './tokenizer.js';

function fingerprint(spec: ReturnType<typeof buildDefaultTokenizerSpec>): string {
  return createHash('sha256')
    .update(JSON.stringify({ tokens: spec.tokens, merges: spec.merges, types: Array.from(spec.tokenTypes!) }))
    .digest('hex');
}

/** Any Unicode scalar value (no lone surrogates: those are not text), biased toward ASCII and whitespace. */
const unicodeText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', "'s", "'LL", '.', '0', '123'),
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCodePoint(c)),
    fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)),
  ),
  maxLength: 80,
});

describe('embedded default tokenizer', () => {
  const spec = buildDefaultTokenizerSpec();

  it('has the fixtures’ layout: 256 byte tokens, merged tokens in merge order, then the LLaMA-3 specials', () => {
    expect(spec.tokens.length).toBe(DEFAULT_VOCAB_SIZE);
    expect(spec.model).toBe('gpt2');
    expect(spec.pre).toBe('llama-bpe');
    const byteTokens = spec.tokens.slice(0, 256);
    expect(new Set(byteTokens)).toEqual(new Set(BYTE_TO_CHAR));
    expect(byteTokens[0]).toBe('!');
    expect(byteTokens[220]).toBe('Ġ');
    const merges = spec.merges!;
    merges.forEach((m, i) => expect(spec.tokens[256 + i]).toBe(m.replace(' ', '')));
    const first = 256 + merges.length;
    expect(spec.tokens.slice(first)).toEqual([...DEFAULT_SPECIAL_TOKENS]);
    expect(Array.from(spec.tokenTypes!.slice(first))).toEqual([3, 3, 3, 3, 3]);
    expect(spec.tokenTypes!.slice(0, first).every((t) => t === 1)).toBe(true);
    expect(spec.tokens[spec.bosId!]).toBe('<|begin_of_text|>');
    expect(spec.tokens[spec.eosId!]).toBe('<|end_of_text|>');
    expect(spec.tokens[spec.eotId!]).toBe('<|eot_id|>');
    expect(spec.addBos).toBe(true);
    expect(spec.chatTemplate).toBe(BITNET_2B4T_CHAT_TEMPLATE);
  });

  it('is the same spec every time it is trained', () => {
    const again = createDefaultTokenizerSpec();
    expect(again).not.toBe(spec);
    expect(again).toEqual(spec);
    // Pinned so a change to the corpus, the trainer or the pre-tokenizer (which would change the default model's
    // vocabulary) is a deliberate edit here, not an accident.
    expect(fingerprint(again)).toBe(DEFAULT_TOKENIZER_FINGERPRINT);
  });

  it('learns merges by frequency, ties to the smallest pair', () => {
    const { merges } = trainByteLevelBpe('ab ab ab cd cd xy', 3);
    // Words ab, Ġab ×2, Ġcd ×2, Ġxy: a-b counts 3 and goes first; then Ġ-ab, Ġ-c and c-d tie at 2, and "c" < "Ġ"
    // puts c-d before the two Ġ pairs, of which (Ġ, ab) < (Ġ, c).
    expect(merges[0]).toBe('a b');
    expect(merges.slice(1)).toEqual(['c d', 'Ġ ab']);
  });

  // The fixtures' tokenizer was trained by the same rule on eight Debian license texts (fixtures README §4); where
  // those files exist, training on them must give the fixtures' 507 merges exactly.
  const licenses = ['GPL-3', 'Apache-2.0', 'MPL-2.0', 'LGPL-2.1', 'GFDL-1.3', 'Artistic', 'BSD', 'CC0-1.0'].map((n) =>
    path.join('/usr/share/common-licenses', n),
  );
  const haveLicenses = licenses.every((f) => existsSync(f));
  if (!haveLicenses) console.warn('*** SKIPPING the trainer-vs-fixture check: /usr/share/common-licenses is incomplete ***');
  it.runIf(haveLicenses && haveFixtures())('reproduces the fixtures’ merges from their training text', async () => {
    const text = licenses.map((f) => readFileSync(f, 'utf8') + '\n').join('');
    const file = await openGguf(fixturePath('tiny-bitnet25-i2_s'));
    const fixture = tokenizerSpecFromGguf(file.metadata);
    await file.close();
    const trained = trainByteLevelBpe(text, fixture.merges!.length);
    expect(trained.merges).toEqual(fixture.merges);
    expect(trained.tokens).toEqual(fixture.tokens.slice(256, 256 + fixture.merges!.length));
  });

  it('compresses English', () => {
    const tok = createTokenizer(spec);
    const text = 'The worker loads the model and streams each new token back to the client as soon as it is ready.';
    expect(tok.encode(text, { addBos: false }).length).toBeLessThan(text.length / 3);
  });

  it('round-trips any Unicode text through encode and decode', () => {
    const tok = createTokenizer(spec);
    fc.assert(
      fc.property(unicodeText, (text) => {
        expect(tok.decode(tok.encode(text, { addBos: false }))).toBe(text);
        // With BOS the text is the same: BOS is a control token and decodes to nothing.
        expect(tok.decode(tok.encode(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips its own training text', () => {
    const tok = createTokenizer(spec);
    expect(tok.decode(tok.encode(DEFAULT_TOKENIZER_CORPUS))).toBe(DEFAULT_TOKENIZER_CORPUS);
  });

  it('renders and tokenizes a chat with <|eot_id|> as one token and BOS once', () => {
    const tok = createTokenizer(spec);
    const messages = [{ role: 'user', content: ' Hello there. ' }];
    expect(renderChat(spec, messages, { addGenerationPrompt: true })).toBe('User: Hello there.<|eot_id|>Assistant: ');
    const ids = encodeChat(tok, messages, { addGenerationPrompt: true });
    expect(ids[0]).toBe(spec.bosId);
    expect(ids.filter((id) => id === spec.bosId)).toHaveLength(1);
    expect(ids.filter((id) => id === spec.eotId)).toHaveLength(1);
    expect(tok.decode(ids, { renderSpecial: true })).toBe('<|begin_of_text|>User: Hello there.<|eot_id|>Assistant: ');
  });
});

const DEFAULT_TOKENIZER_FINGERPRINT = '9c5aa4e6111563ce148d23a1b91012d541aeaee7477794f56ca3696a9af0781d';
