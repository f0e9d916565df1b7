// ESLint: type-aware rules over every TypeScript area, each file checked against its own area's
// tsconfig (the project service picks the nearest tsconfig.json: the webview sees the DOM, the engine
// neither Node nor the DOM, the tests mocha). Prettier owns the layout (see .prettierrc.json); the
// only layout rule here is max-len, for what Prettier cannot wrap: comments and long strings.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

export default defineConfig(
  globalIgnores([
    'dist/',
    'test/fixtures/',
    'demo/images/',
    '.vscode-test/',
    'test-results/',
    'bench-results/',
    '**/*.d.mts', // hand-written declarations of the .mjs scripts, checked by the tests' type check
  ]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          // The .mjs build and test scripts (and mocha's .cjs settings) sit outside every tsconfig:
          // they get a default project.
          allowDefaultProject: [
            '*.mjs',
            '.mocharc.cjs',
            'scripts/*.mjs',
            'scripts/vscode/*.mjs',
            'demo/sample-app/*.mjs',
          ],
          defaultProject: 'tsconfig.json',
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 20,
        },
        tsconfigRootDir: root,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A `default:` branch is a deliberate catch-all; a switch without one must name every member.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // tsc's noUnusedLocals and noUnusedParameters already check this, with the `_name` convention.
      '@typescript-eslint/no-unused-vars': 'off',
      // `async` on a method that implements a Promise-returning port (close, read, attest) is
      // deliberate even without an await: a throw inside it becomes a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
    },
  },

  {
    // `declare var` is how a declaration file states a global with a constructor (as lib.dom.d.ts does).
    files: ['**/*.d.ts'],
    rules: { 'no-var': 'off' },
  },

  {
    // Tests and benchmarks read JSON (fixtures, the CLI's --json output) as untyped data and assert
    // on it field by field; typing every parse would restate the shapes the assertions check.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  {
    // The benchmarks are type-checked with the tests (test/tsconfig.json), not with the editors'
    // tsconfig.json that the project service would find above them.
    files: ['bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false, project: 'test/tsconfig.json' } },
  },

  {
    // Plain JavaScript run by Node: no type annotations, so values read from JSON or child
    // processes are `any`; the no-unsafe-* rules would only restate that.
    files: ['**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },

  prettier,
  {
    // After eslint-config-prettier, which turns max-len off: Prettier wraps code at 120 but leaves
    // comments and string literals as they are, so their length is checked here.
    rules: {
      'max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
);
