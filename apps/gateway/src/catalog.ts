import { TrineError, invalidArgument } from '@trine/core';
import type { ModelHost, ServedModelInfo } from '@trine/worker';

/** The models this gateway serves and a tokenizer for each (validation counts tokens before enqueueing). */
export interface ModelCatalog {
  /** The default model first. */
  list(): readonly ServedModelInfo[];
  /** '' = the default model. Throws INVALID_ARGUMENT naming `model` when unknown. */
  resolve(name: string): ServedModelInfo;
  tokenize(model: string, text: string, chat: boolean): Promise<number[]>;
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
