import { TrineError, invalidModelFile } from '../../errors/index.js';
import type { TokenizerSpec } from '../../tokenizer/spec.js';
import { type Json, isJsonObject } from '../json-strict.js';

/** A special token in tokenizer_config.json: a string or `{ content }`. */
function tokenContent(v: Json | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (isJsonObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

function hasByteLevel(node: Json | undefined): boolean {
  if (!isJsonObject(node)) return false;
  if (node.type === 'ByteLevel') return true;
  const subs = node.pretokenizers ?? node.decoders ?? node.processors;
  return Array.isArray(subs) && subs.some(hasByteLevel);
}

function splitPatterns(node: Json | undefined, out: string[] = []): string[] {
  if (!isJsonObject(node)) return out;
  if (node.type === 'Split' && isJsonObject(node.pattern)) {
    const p = node.pattern.Regex ?? node.pattern.String;
    if (typeof p === 'string') out.push(p);
  }
  if (Array.isArray(node.pretokenizers)) for (const s of node.pretokenizers) splitPatterns(s, out);
  return out;
}

/** Does the post-processor's single-sequence template start with `bos`? (How HF LLaMA-3 tokenizers add BOS.) */
function postProcessorAddsBos(node: Json | undefined, bos: string | undefined): boolean {
  if (!isJsonObject(node) || bos === undefined) return false;
  if (node.type === 'TemplateProcessing' && Array.isArray(node.single)) {
    const first = node.single[0];
    return isJsonObject(first) && isJsonObject(first.SpecialToken) && first.SpecialToken.id === bos;
  }
  if (Array.isArray(node.processors)) return node.processors.some((p) => postProcessorAddsBos(p, bos));
  return false;
}

/**
 * tokenizer.json (+ tokenizer_config.json, + generation_config.json) of a byte-level BPE tokenizer (LLaMA-3, as in
 * microsoft/bitnet-b1.58-2B-4T) → TokenizerSpec. Ids must cover 0..n−1 without gaps or clashes.
 */
export function tokenizerSpecFromHfJson(tokenizerJsonIn: unknown, tokenizerConfigJsonIn?: unknown, generationConfigJsonIn?: unknown): TokenizerSpec {
  // Accepts parsed JSON from any parser (parseStrictJson or JSON.parse); only JSON-shaped values are inspected.
  const tokenizerJson = tokenizerJsonIn as Json;
  const tokenizerConfigJson = tokenizerConfigJsonIn as Json | undefined;
  const generationConfigJson = generationConfigJsonIn as Json | undefined;
  const F = 'tokenizer.json';
  if (!isJsonObject(tokenizerJson) || !isJsonObject(tokenizerJson.model)) throw invalidModelFile(`${F}.model`, 0, 'missing "model" object');
  const model = tokenizerJson.model;
  if (model.type !== 'BPE') throw new TrineError('UNSUPPORTED', `${F}: tokenizer model ${JSON.stringify(model.type)} is not supported (BPE)`, { field: `${F}.model.type` });
  if (!hasByteLevel(tokenizerJson.pre_tokenizer) && !hasByteLevel(tokenizerJson.decoder)) {
    throw new TrineError('UNSUPPORTED', `${F}: only byte-level BPE tokenizers are supported`, { field: `${F}.pre_tokenizer` });
  }
  if (!isJsonObject(model.vocab)) throw invalidModelFile(`${F}.model.vocab`, 0, 'must be an object of token → id');
  const byId = new Map<number, string>();
  const special = new Map<number, boolean>();
  const put = (token: string, id: Json | undefined, field: string) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= 1 << 22) throw invalidModelFile(field, 0, `id ${JSON.stringify(id)} is not an integer in 0..2^22`);
    const prev = byId.get(id);
    if (prev !== undefined && prev !== token) throw invalidModelFile(field, 0, `id ${id} is both ${JSON.stringify(prev)} and ${JSON.stringify(token)}`);
    byId.set(id, token);
  };
  for (const [tok, id] of Object.entries(model.vocab)) put(tok, id, `${F}.model.vocab[${JSON.stringify(tok.slice(0, 32))}]`);
  const added = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(added)) throw invalidModelFile(`${F}.added_tokens`, 0, 'must be an array');
  added.forEach((a, i) => {
    if (!isJsonObject(a) || typeof a.content !== 'string') throw invalidModelFile(`${F}.added_tokens[${i}]`, 0, 'must be { id, content }');
    put(a.content, a.id, `${F}.added_tokens[${i}].id`);
    special.set(a.id as number, a.special === true);
  });
  const n = byId.size;
  const tokens: string[] = new Array<string>(n);
  const tokenTypes = new Int32Array(n);
  for (const [id, tok] of byId) {
    if (id >= n) throw invalidModelFile(`${F}.model.vocab`, 0, `ids are not contiguous: id ${id} with only ${n} tokens`);
    tokens[id] = tok;
    const s = special.get(id);
    tokenTypes[id] = s === undefined ? 1 : s ? 3 : 4;
  }
  const rawMerges = model.merges ?? [];
  if (!Array.isArray(rawMerges)) throw invalidModelFile(`${F}.model.merges`, 0, 'must be an array');
  const merges = rawMerges.map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0]} ${m[1]}`;
    throw invalidModelFile(`${F}.model.merges[${i}]`, 0, 'a merge is "left right" or ["left", "right"]');
  });
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const cfg = isJsonObject(tokenizerConfigJson) ? tokenizerConfigJson : {};
  const idOf = (key: string): number | undefined => {
    const c = tokenContent(cfg[key]);
    if (c === undefined) return undefined;
    const id = ids.get(c);
    if (id === undefined) throw invalidModelFile(`tokenizer_config.json.${key}`, 0, `${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  };
  const bosId = idOf('bos_token');
  const eosId = idOf('eos_token');
  const eotId = ids.get('<|eot_id|>');
  let chatTemplate: string | undefined;
  const ct = cfg.chat_template;
  if (typeof ct === 'string') chatTemplate = ct;
  else if (Array.isArray(ct)) {
    const def = ct.find((t) => isJsonObject(t) && t.name === 'default');
    if (isJsonObject(def) && typeof def.template === 'string') chatTemplate = def.template;
  } else if (ct !== undefined && ct !== null) throw invalidModelFile('tokenizer_config.json.chat_template', 0, 'must be a string or a list of named templates');
  const gen = isJsonObject(generationConfigJson) ? generationConfigJson.eos_token_id : undefined;
  const eog = (Array.isArray(gen) ? gen : gen === undefined ? [] : [gen]).filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < n);
  const isLlama3 = splitPatterns(tokenizerJson.pre_tokenizer).some((p) => p.includes('\\p{N}{1,3}'));
  const bosToken = bosId === undefined ? undefined : tokens[bosId];
  return {
    model: 'gpt2',
    pre: isLlama3 ? 'llama-bpe' : 'gpt2',
    tokens,
    tokenTypes,
    merges,
    bosId,
    eosId,
    eotId,
    unkId: typeof model.unk_token === 'string' ? ids.get(model.unk_token) : undefined,
    addBos: typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : postProcessorAddsBos(tokenizerJson.post_processor, bosToken),
    addEos: cfg.add_eos_token === true,
    eogIds: eog.length ? eog : undefined,
    chatTemplate,
  };
}

/** A TokenizerSpec (byte-level BPE) as tokenizer.json and tokenizer_config.json objects (for the HF writer). */
export function hfJsonFromTokenizerSpec(spec: TokenizerSpec): { tokenizer: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  if (spec.model !== 'gpt2') throw new TrineError('UNSUPPORTED', 'only byte-level BPE (gpt2) tokenizers can be written as tokenizer.json', { field: 'tokenizer.model' });
  const vocab: Record<string, number> = {};
  const added: Record<string, unknown>[] = [];
  spec.tokens.forEach((t, i) => {
    const type = spec.tokenTypes?.[i] ?? 1;
    if (type === 3 || type === 4) added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === 3 });
    else vocab[t] = i;
  });
  const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const bos = spec.bosId === undefined ? undefined : spec.tokens[spec.bosId];
  return {
    tokenizer: {
      version: '1.0',
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          ...(spec.pre === 'llama-bpe' ? [{ type: 'Split', pattern: { Regex: llama3 }, behavior: 'Isolated', invert: false }] : []),
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: spec.pre !== 'llama-bpe' },
        ],
      },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: spec.merges ?? [] },
    },
    tokenizerConfig: {
      add_bos_token: spec.addBos,
      add_eos_token: spec.addEos,
      ...(bos !== undefined ? { bos_token: bos } : {}),
      ...(spec.eosId !== undefined ? { eos_token: spec.tokens[spec.eosId] } : {}),
      ...(spec.chatTemplate !== undefined ? { chat_template: spec.chatTemplate } : {}),
    },
  };
}
