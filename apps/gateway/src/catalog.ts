import { TrineError, createTokenizer, ensureDefaultModel, invalidArgument, openModel, promptTokenIds, tokenizeText, type ChatMessage, type Tokenizer } from '@trine/core';
import type { ModelHost, ServedModelInfo } from '@trine/serving';

/** The models this gateway serves and a tokenizer for each (validation counts tokens before enqueueing). */
export interface ModelCatalog {
  /** The default model first. */
  list(): readonly ServedModelInfo[];
  /** '' = the default model. Throws INVALID_ARGUMENT naming `model` when unknown. */
  resolve(name: string): ServedModelInfo;
  tokenize(model: string, text: string, chat: boolean): Promise<number[]>;
  /** A request's prompt ids exactly as the engine renders them (chat template included), where known here. */
  promptIds?(model: string, input: { readonly prompt?: string; readonly messages?: readonly ChatMessage[] }): Promise<number[]>;
}

/** A catalog of one model, backed by a ModelHost (the engine thread). */
export class SingleModelCatalog implements ModelCatalog {
  constructor(private readonly host: ModelHost) {}

  list(): readonly ServedModelInfo[] {
    return [this.host.info];
  }

  resolve(name: string): ServedModelInfo {
    if (name === '' || name === this.host.info.name) return this.host.info;
    throw invalidArgument('model', `unknown model '${name.slice(0, 200)}' (served: ${this.host.info.name})`);
  }

  tokenize(model: string, text: string, chat: boolean): Promise<number[]> {
    this.resolve(model);
    return this.host.tokenize(text, chat);
  }
}

/** A catalog while the model is still loading: every call is UNAVAILABLE (health says NOT_SERVING meanwhile). */
export const loadingCatalog: ModelCatalog = {
  list: () => [],
  resolve: () => {
    throw new TrineError('UNAVAILABLE', 'the model is still loading');
  },
  tokenize: () => Promise.reject(new TrineError('UNAVAILABLE', 'the model is still loading')),
};

/**
 * The distributed gateway's catalog: reads the model file's header and tokenizer only (no weights), so a gateway
 * can validate token counts for a 2B model without loading it. Same name and context as the workers' engine
 * when given the same TRINE_MODEL / TRINE_CONTEXT.
 */
export class TokenizerCatalog implements ModelCatalog {
  private constructor(
    private readonly info: ServedModelInfo,
    private readonly tokenizer: Tokenizer,
    private readonly arch: string,
  ) {}

  static async load(options: { model?: string; context?: number } = {}): Promise<TokenizerCatalog> {
    const path = options.model ?? (await ensureDefaultModel());
    const source = await openModel(path);
    try {
      const cfg = source.config;
      const contextLength = options.context ?? cfg.context;
      if (contextLength > cfg.context) throw invalidArgument('TRINE_CONTEXT', `the model's context is ${cfg.context}, got ${contextLength}`);
      const info: ServedModelInfo = { name: source.name, contextLength, vocabSize: cfg.vocab, backend: 'none', backendVariant: 'tokenizer only', selection: [] };
      return new TokenizerCatalog(info, createTokenizer(source.tokenizer), cfg.arch);
    } finally {
      await source.close();
    }
  }

  list(): readonly ServedModelInfo[] {
    return [this.info];
  }

  resolve(name: string): ServedModelInfo {
    if (name === '' || name === this.info.name) return this.info;
    throw invalidArgument('model', `unknown model '${name.slice(0, 200)}' (served: ${this.info.name})`);
  }

  async tokenize(model: string, text: string, chat: boolean): Promise<number[]> {
    this.resolve(model);
    return tokenizeText(this.tokenizer, this.arch, text, { chat });
  }

  async promptIds(model: string, input: { readonly prompt?: string; readonly messages?: readonly ChatMessage[] }): Promise<number[]> {
    this.resolve(model);
    return promptTokenIds(this.tokenizer, this.arch, input);
  }
}
