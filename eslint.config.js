// ESLint flat configuration: typescript-eslint's strict, type-checked rules over src, test, bench and scripts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeGlobals = {
  process: 'readonly',
  console: 'readonly',
  URL: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
};

// The status page's script runs in browsers as plain ES5-style JavaScript; it gets only the JavaScript rules.
const browserGlobals = {
  window: 'readonly',
  document: 'readonly',
  localStorage: 'readonly',
  sessionStorage: 'readonly',
  fetch: 'readonly',
  location: 'readonly',
  history: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setInterval: 'readonly',
  clearInterval: 'readonly',
  URLSearchParams: 'readonly',
  TextDecoder: 'readonly',
  CSS: 'readonly',
  Chart: 'readonly',
  console: 'readonly',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/results/', 'coverage/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans print plainly in messages; objects, nullish values and unions with them still may not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // `(x) => sideEffect(x)` callbacks and `return reply(res, ...)` early exits from void handlers are this code's idiom.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
      // `const { secret: _secret, ...rest } = x` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Rejections pass on what a callee threw or an abort signal carries, unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // `!` marks a value an earlier check proves present (an index within bounds, an option the schema requires
      // alongside another); noUncheckedIndexedAccess otherwise asks for a fallback branch that can never run.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // JSON-shaped records (lab faults, decoded run bodies, raw configuration) drop keys by name; a Map would change their shape.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // Sanitizers and parsers match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // after() hooks guard values a failed before() may have left unset, which the declared types cannot say.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Fakes implement async interfaces (transports, resolvers, executors) with async bodies that need no await.
      '@typescript-eslint/require-await': 'off',
      // Tests read JSON bodies (any) and assert their shape field by field: a missing field fails the assertion.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['src/server/status-page/client.js'],
    languageOptions: { sourceType: 'script', globals: browserGlobals },
    // It keeps to syntax every browser reads, so catch clauses name their error even when unused.
    rules: { 'no-unused-vars': ['error', { caughtErrors: 'none' }] },
  },
);
