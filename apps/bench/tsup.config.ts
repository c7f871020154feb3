import { defineConfig } from 'tsup';
// One file: the child processes re-run dist/main.js, found through import.meta.url (no code-split chunks).
export default defineConfig({ entry: ['src/main.ts'], format: ['esm'], sourcemap: true, clean: true, splitting: false, banner: { js: '#!/usr/bin/env node' } });
