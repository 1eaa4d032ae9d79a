// Builds the dashboard (web/) into dist/web: web/src/app.ts bundled by esbuild for today's browsers, the page
// and its style copied. Served by the API at / (behind Basic auth); nothing comes from a CDN.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

mkdirSync('dist/web/ui', { recursive: true });
await build({
  entryPoints: ['web/src/app.ts'],
  bundle: true,
  format: 'esm',
  target: ['chrome120', 'firefox120', 'safari17'],
  minify: true,
  sourcemap: true,
  outfile: 'dist/web/ui/app.js',
  logLevel: 'warning',
});
copyFileSync('web/index.html', 'dist/web/index.html');
copyFileSync('web/style.css', 'dist/web/ui/style.css');
