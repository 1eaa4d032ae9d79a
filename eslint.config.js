import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers, as a check that fails: no import runs from a lower layer to a higher one. The domain needs
 * nothing but itself; adapters implement its ports; the API and the worker are the two edges; bootstrap (and
 * each process's main.ts) wires them. The CLI and the dashboard are clients of the HTTP API only (src/client).
 */
const forbid = (files, groups, options = {}) => ({
  files,
  ...options,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: groups }] },
});
const upward = (names, message) => ({ group: names.map((name) => `**/${name}/**`), message });

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    // Async mistakes, found with type information: a promise nobody awaits or handles, or one handed to
    // something that expects a plain callback (an Express handler, an event listener, a timer).
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  forbid(
    ['src/domain/**/*.ts'],
    [
      upward(
        ['api', 'worker', 'bootstrap', 'cli', 'client', 'adapters', 'config'],
        'The domain imports only the domain: it says what it needs in domain/ports.ts.',
      ),
      { group: ['dockerode', 'ioredis', 'bullmq', 'express', 'pino', 'prom-client'], message: 'The domain talks to the outside world only through its ports.' },
    ],
  ),
  forbid(
    ['src/adapters/**/*.ts'],
    [upward(['api', 'worker', 'bootstrap', 'cli', 'client'], "Adapters implement the domain's ports; they never reach up to the edges or the wiring.")],
  ),
  forbid(
    ['src/config/**/*.ts'],
    [{ regex: '^\\.\\./(?!domain/)', message: "Configuration stands alone (with the domain's pure rules: how durations are written)." }],
  ),
  forbid(['src/api/**/*.ts'], [upward(['worker', 'bootstrap', 'cli'], 'The API is an edge: it gets what it needs from buildApp(deps).')], {
    ignores: ['src/api/main.ts'],
  }),
  forbid(['src/worker/**/*.ts'], [upward(['api', 'bootstrap', 'cli'], 'The worker is an edge: it gets what it needs from its deps.')], {
    ignores: ['src/worker/main.ts'],
  }),
  forbid(
    ['src/client/**/*.ts', 'src/cli/spin-docker.ts', 'src/cli/client.ts', 'src/cli/format.ts'],
    [
      upward(['domain', 'adapters', 'worker', 'bootstrap', 'config'], 'A client is not a server: it talks to the HTTP API only.'),
      { group: ['**/api/**'], allowTypeImports: true, message: 'A client may know the types of the answers, nothing else of the server.' },
    ],
  ),
  forbid(['web/**/*.ts'], [{ regex: '/src/(?!client/)', message: 'The dashboard is a client: only src/client.' }]),
  {
    // The dashboard runs in the browser.
    files: ['web/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['images/**/*.js', 'bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
