/**
 * `hf:REPO[@REV][/FILE]` wherever the CLI takes a model: pulled into the Hugging Face cache (or found there when
 * offline) before the command opens it, with what happens told on stderr.
 */
import { type PullEvent, isHfRef, resolveModelPath } from '@trine/hub';
import { progressBar } from '../progress.js';

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/** Pull events for a person: a progress bar on a terminal, plain lines otherwise (logs, CI, pipes). */
export function pullReporter(stream: NodeJS.WriteStream = process.stderr): { onEvent: (e: PullEvent) => void; end: () => void } {
  const bar = progressBar(stream);
  let lastTenth = -1;
  const line = (text: string): void => {
    bar.end();
    stream.write(`${text}\n`);
  };
  return {
    onEvent(e) {
      switch (e.kind) {
        case 'picked':
          line(`picked ${e.file} (${e.type}, told by its ${e.by === 'name' ? 'file name' : 'GGUF header'}); --file chooses another`);
          break;
        case 'start':
          lastTenth = -1;
          line(e.cached ? `${e.file}: in the cache` : `downloading ${e.file}${e.size !== undefined ? ` (${mb(e.size)})` : ''}`);
          break;
        case 'progress': {
          if (stream.isTTY) bar.update(e.done, e.total ?? 0, e.file);
          else if (e.total) {
            const tenth = Math.floor((e.done / e.total) * 10);
            if (tenth > lastTenth && tenth < 10) line(`${e.file}: ${tenth * 10}% (${mb(e.done)} of ${mb(e.total)})`);
            lastTenth = Math.max(lastTenth, tenth);
          }
          break;
        }
        case 'done':
          line(`${e.file}: done (${mb(e.size)}, checked)`);
          break;
        case 'waiting':
          line(`${e.file}: ${e.holder} is downloading it; waiting`);
          break;
        case 'log':
          line(e.line);
          break;
      }
    },
    end: () => bar.end(),
  };
}

/** The local path for a model argument: `hf:` names are pulled first, paths pass through. */
export async function localModel(spec: string): Promise<string> {
  if (!isHfRef(spec)) return spec;
  const reporter = pullReporter();
  try {
    return await resolveModelPath(spec, { onEvent: reporter.onEvent });
  } finally {
    reporter.end();
  }
}

/**
 * Rewrites a command's arguments so every model named `hf:…` (`--model hf:…`, `-m hf:…`, `--model=hf:…`, and `trine info hf:…`)
 * is a local path before the command parses them; the commands themselves only ever see files.
 */
export async function resolveModelArgs(command: string, argv: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if ((arg === '--model' || arg === '-m') && i + 1 < argv.length) {
      out.push(arg, await localModel(argv[++i]!));
    } else if (arg.startsWith('--model=')) {
      out.push(`--model=${await localModel(arg.slice('--model='.length))}`);
    } else if (command === 'info' && isHfRef(arg)) {
      out.push(await localModel(arg));
    } else {
      out.push(arg);
    }
  }
  return out;
}
