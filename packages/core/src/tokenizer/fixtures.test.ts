import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openGguf } from '../formats/gguf/reader.js';
import { FIXTURE_NAMES, fixturePath, haveFixtures, readReference } from '../formats/test-support/fixtures.js';
import { encodeChat, renderChat } from './chat.js';
import { tokenizerSpecFromGguf } from './from-gguf.js';
import { createTokenizer } from './tokenizer.js';

interface PromptRef {
  text: string;
  token_ids: number[];
  greedy: { token_ids: number[]; text: string; text_utf8_hex: string; text_with_special_tokens_rendered: string };
}
interface ChatRef {
  template: string;
  messages: { role: string; content: string }[];
  add_generation_prompt: boolean;
  rendered: string;
  token_ids: number[];
  token_ids_if_special_tokens_not_parsed: number[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// skipIf still runs the describe body to collect tests: read the reference JSON only when the fixtures exist.
describe.skipIf(!haveFixtures())('tokenizer against the llama.cpp / bitnet.cpp fixtures', () => {
  for (const name of FIXTURE_NAMES) {
    describe(name, () => {
      if (!haveFixtures()) return;
      const ref = readReference(name) as unknown as ReturnType<typeof readReference> & {
        prompts: PromptRef[];
        chat: ChatRef;
      };
      const load = async () => {
        const file = await openGguf(fixturePath(name));
        try {
          return tokenizerSpecFromGguf(file.metadata);
        } finally {
          await file.close();
        }
      };

      it('reads the vocabulary the reference describes', async () => {
        const spec = await load();
        const tok = createTokenizer(spec);
        expect(tok.vocabSize).toBe(ref.vocab.n_vocab);
        expect(tok.bosId).toBe(ref.vocab.bos);
        expect(spec.addBos).toBe(ref.vocab.add_bos_token);
        expect(tok.eosIds).toEqual([ref.vocab.eos, ref.vocab.eot]);
        expect(tok.isEndOfGeneration(ref.vocab.eot)).toBe(true);
        expect(tok.isEndOfGeneration(ref.vocab.bos)).toBe(false);
      });

      it('tokenizes every prompt as the engine did (BOS added, special tokens not parsed)', async () => {
        const tok = createTokenizer(await load());
        for (const p of ref.prompts) expect(tok.encode(p.text)).toEqual(p.token_ids);
      });

      it('renders and tokenizes the chat as transformers and the engine did', async () => {
        const spec = await load();
        const tok = createTokenizer(spec);
        expect(spec.chatTemplate).toBe(ref.chat.template);
        const opts = { addGenerationPrompt: ref.chat.add_generation_prompt };
        const rendered = renderChat(spec, ref.chat.messages, opts);
        expect(rendered).toBe(ref.chat.rendered);
        expect(encodeChat(tok, ref.chat.messages, opts)).toEqual(ref.chat.token_ids);
        expect(tok.encode(rendered, { parseSpecial: true })).toEqual(ref.chat.token_ids);
        expect(tok.encode(rendered)).toEqual(ref.chat.token_ids_if_special_tokens_not_parsed);
      });

      it('decodes the greedy ids to the recorded bytes, whole and streamed', async () => {
        const tok = createTokenizer(await load());
        for (const p of ref.prompts) {
          const ids = p.greedy.token_ids;
          expect(hex(tok.decodeBytes(ids))).toBe(p.greedy.text_utf8_hex);
          expect(tok.decode(ids)).toBe(p.greedy.text);
          expect(tok.decode(ids, { renderSpecial: true })).toBe(p.greedy.text_with_special_tokens_rendered);

          const stream = tok.streamDecoder();
          const deltas = ids.map((id) => stream.push(id));
          deltas.push(stream.flush());
          expect(deltas.join('')).toBe(p.greedy.text);
          for (const d of deltas) expect(d).not.toMatch(LONE_SURROGATE);
        }
      });

      it('round-trips arbitrary Unicode text through encode and decode', async () => {
        const tok = createTokenizer(await load());
        const scalar = fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff);
        const unit = fc.oneof(fc.constantFrom(' ', '\n', "'s", '12', 'the'), scalar.map((c) => String.fromCodePoint(c)));
        fc.assert(
          fc.property(fc.string({ unit, maxLength: 60 }), (text) => {
            expect(tok.decode(tok.encode(text))).toBe(text);
          }),
          { numRuns: 100 },
        );
      });

      it('streams the prompts back without ever splitting a character', async () => {
        const tok = createTokenizer(await load());
        for (const p of ref.prompts) {
          const ids = p.token_ids;
          const stream = tok.streamDecoder();
          let text = '';
          for (const id of ids) {
            const delta = stream.push(id);
            // Every delta is whole characters: its UTF-8 is exactly the next bytes of the prompt.
            const sofar = Buffer.from(text + delta, 'utf8');
            expect(Buffer.from(p.text, 'utf8').subarray(0, sofar.length).equals(sofar)).toBe(true);
            text += delta;
          }
          expect(text + stream.flush()).toBe(p.text);
        }
      });
    });
  }
});
