/**
 * The trained default model: a 3.4 M-parameter BitNet b1.58 trained by training/ (README there) on the Brown corpus
 * and the King James Bible, exported with Trine's GGUF writer in I2_S, and shipped in the package as
 * assets/trine-default.gguf (2.8 MB). It writes English-like text, not answers. The random-weight model
 * (build.ts) stays for tests and bench shapes.
 */

/** File name of the trained model in the package's assets/ folder. */
export const TRAINED_DEFAULT_MODEL_FILE = 'trine-default.gguf';
/** Its `general.name`. */
export const TRAINED_DEFAULT_MODEL_NAME = 'trine-default-3m';

/**
 * Where the shipped model file is, or undefined when this install has none (a build that left assets/ out, or a
 * runtime without a file system): the sources sit two folders below the package root, the bundle one.
 */
export async function trainedDefaultModelPath(): Promise<string | undefined> {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') return undefined;
  const { stat } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  for (const rel of [`../../assets/${TRAINED_DEFAULT_MODEL_FILE}`, `../assets/${TRAINED_DEFAULT_MODEL_FILE}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    try {
      if ((await stat(path)).isFile()) return path;
    } catch {
      // Not at this layout; try the next.
    }
  }
  return undefined;
}
