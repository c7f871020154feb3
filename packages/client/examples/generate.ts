/**
 * Streams a completion from a running Trine server (`pnpm start` in another terminal), then prints usage.
 *   node --import tsx packages/client/examples/generate.ts "Once upon a time"
 * TRINE_ADDRESS (default 127.0.0.1:50051) and TRINE_API_KEY are read from the environment.
 */
import { TrineClient } from '../src/index.js';

const trine = new TrineClient({ address: process.env.TRINE_ADDRESS ?? '127.0.0.1:50051', ...(process.env.TRINE_API_KEY ? { apiKey: process.env.TRINE_API_KEY } : {}) });
const prompt = process.argv[2] ?? 'Once upon a time';

const [model] = await trine.listModels();
console.error(`model: ${model?.name} (context ${model?.contextLength})`);
for await (const chunk of trine.stream({ prompt, maxTokens: 32, temperature: 0.8, seed: 42n }, { deadlineMs: 30_000 })) {
  if (chunk.restarted) process.stdout.write('\n[restarted]\n');
  process.stdout.write(chunk.text);
  if (chunk.done) console.error(`\n${chunk.usage?.outputTokens} tokens, TTFT ${chunk.timings?.timeToFirstTokenMs.toFixed(1)} ms, ${chunk.timings?.perTokenMs.toFixed(1)} ms/token`);
}
trine.close();
