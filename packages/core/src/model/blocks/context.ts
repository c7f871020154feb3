import type { AttentionParams, Handles, KernelBackend, QuantizedActs, RopeParams } from '../../kernels/spec.js';
import type { BitNetConfig } from '../config.js';
import type { RunState, TraceHook } from '../weights.js';

/** What a block needs besides its own weights: the backend, the config, the run state and this step's batch. */
export interface BlockContext<H extends Handles> {
  readonly be: KernelBackend<H>;
  readonly config: BitNetConfig;
  readonly state: RunState<H>;
  readonly kv: H['kv'];
  readonly batch: H['batch'];
  readonly rows: number;
  readonly rope: RopeParams;
  readonly attention: AttentionParams;
  readonly trace: TraceHook<H> | undefined;
}

/** BitLinear's input half: int8-quantize `x` once (its result feeds every projection of that input). */
export function quantize<H extends Handles>(ctx: BlockContext<H>, out: QuantizedActs<H['tensor']>, x: H['tensor']): void {
  ctx.be.quantizeActs(out, x, ctx.rows);
}

export function traced<H extends Handles>(ctx: BlockContext<H>, name: string, layer: number, t: H['tensor']): void {
  ctx.trace?.(name, layer, t, ctx.rows);
}
