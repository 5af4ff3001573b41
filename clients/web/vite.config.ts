import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

const here = import.meta.dirname;

/** Writes the list of built files into sw.js, so the service worker precaches exactly this build. */
function shellManifest(): Plugin {
  return {
    name: 'studysync-shell-manifest',
    apply: 'build',
    generateBundle(_options, bundle) {
      const publicFiles = readdirSync(resolve(here, 'public')).map((f) => `/${f}`);
      const built = Object.keys(bundle).filter((f) => f !== 'sw.js' && !f.endsWith('.map')).map((f) => `/${f}`);
      const files = ['/', ...built.filter((f) => f !== '/index.html'), '/index.html', ...publicFiles].sort();
      const version = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16);
      const sw = bundle['sw.js'];
      if (!sw || sw.type !== 'chunk') throw new Error('sw.js was not built');
      sw.code = sw.code.replace('__SHELL_FILES__', JSON.stringify(files).replace(/'/g, "\\'")).replace('__SHELL_VERSION__', version);
    },
  };
}

export default defineConfig({
  plugins: [shellManifest()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      input: { index: resolve(here, 'index.html'), sw: resolve(here, 'src/sw.ts') },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
  test: { environment: 'node', include: ['tests/**/*.test.ts'] },
});
