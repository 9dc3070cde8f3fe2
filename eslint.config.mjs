// @ts-check
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/**
 * The engine's layers, bottom to top (docs/architecture.md). A folder may import its own layer and
 * the ones below, never one above; the cycles lint cannot see (within a layer) are found by
 * scripts/layer-check.mjs (test/unit/layers.test.ts). errors.ts and version.ts sit at the bottom,
 * engine.ts at the top.
 */
const LAYERS = [
  ['process', 'fs', 'format', 'tools', 'log', 'jobs', 'settings', 'credentials'],
  ['storage', 'crypto', 'postgres', 'mysql', 'redis'],
  ['notify'],
  ['pipeline'],
  ['foreign'],
  ['catalog'],
  // The features, in the order their imports go (backup and restore do not import each other).
  ['pitr'],
  ['backup', 'restore'],
  ['verify', 'monitor'],
  ['runbooks'],
  ['api'],
];
// layers-move: pending start
// Modules that live in a higher folder today and move down with scripts/layers-move.mjs (which
// empties this list): until then, importing them is not an upward import.
const MOVING_DOWN = [];
// layers-move: pending end

/**
 * Known debt: runbooks/ (runner.ts, service.ts) takes the whole Engine where it needs a few of its services
 * (u-runner's files); api/ is the Engine's own face (engine.ts wires the services it hands out).
 */
const ENGINE_USERS = ['runbooks', 'api'];

/** The engine's own restrictions (no electron, nothing outside shared/ and Node), which every layer block repeats. */
const ENGINE_PATHS = [{ name: 'electron', message: 'electron/engine is plain Node: it must never import electron.' }];
const ENGINE_PATTERNS = [
  { group: ['electron/*'], message: 'electron/engine is plain Node: it must never import electron.' },
  {
    group: ['**/main/*', '**/ipc/*', '!**/shared/ipc/*', '**/preload/*', '**/cli/*', '**/bridge/*', '**/renderer/**'],
    message: 'The engine depends on shared/ and Node only.',
  },
];

/**
 * "All SQL lives in the catalog" (electron/engine/catalog/): outside it nothing reaches the catalog's
 * database (`catalog.db`, `catalog['db']`, `const { db } = catalog`, `catalog.stmt(…)`,
 * `catalog.inTransaction`); it calls a named function of catalog/ instead. restore/index-store.ts is
 * a restore's own scratch SQLite, not the catalog.
 */
const CATALOG_SQL_MESSAGE =
  'All SQL lives in electron/engine/catalog/ (docs/architecture.md): call or add a named function there instead of using the catalog database here.';
const SQL_NAMES = '/^(stmt|db|inTransaction)$/';
const SQL_SELECTORS = [
  `MemberExpression[property.name=${SQL_NAMES}][object.name=/^catalog$/i]`,
  `MemberExpression[property.name=${SQL_NAMES}][object.property.name=/^catalog$/i]`,
  `MemberExpression[computed=true][property.value=${SQL_NAMES}][object.name=/^catalog$/i]`,
  `VariableDeclarator[init.name=/^catalog$/i] > ObjectPattern > Property[key.name=${SQL_NAMES}]`,
  `VariableDeclarator[init.property.name=/^catalog$/i] > ObjectPattern > Property[key.name=${SQL_NAMES}]`,
  "CallExpression[callee.property.name='stmt']",
].map((selector) => ({ selector, message: CATALOG_SQL_MESSAGE }));

/** What layer `i` may not import: the folders above it, engine.ts (but for the Engine's users), the demo. */
function layerRule(i) {
  const folders = LAYERS[i];
  const above = LAYERS.slice(i + 1).flat();
  const engine = ENGINE_USERS.includes(folders[0]) ? [] : ['engine'];
  const message = `Layers (docs/architecture.md): ${folders.join(', ')} may import only its own layer and those below (not ${above.join(', ') || 'engine.ts'}).`;
  // no-restricted-imports does not see `import('…')`: a selector on its path does (esquery's regex
  // cannot hold a `/`, \x2F is one).
  const names = [...above, ...engine, 'demo'].join('|');
  const dynamic = { selector: `ImportExpression[source.value=/(^|\\x2F)(${names})(\\x2F|$)/]`, message };
  const patterns = [...above.map((f) => `**/${f}/**`), ...engine.map((f) => `**/${f}`), '**/demo/**', ...MOVING_DOWN];
  return { folders, message, dynamic, patterns };
}

/**
 * One block per layer: its folders may not import a folder of a higher layer, engine.ts or the demo,
 * statically (no-restricted-imports) or with `import()` (no-restricted-syntax). A file takes a rule's
 * options from the last block that sets it, so the layer blocks carry the catalog SQL rule too.
 */
function layerBlocks() {
  return LAYERS.map((_, i) => {
    const { folders, message, dynamic, patterns } = layerRule(i);
    return {
      files: folders.map((f) => `electron/engine/${f}/**/*.ts`),
      rules: {
        'no-restricted-syntax': ['error', dynamic, ...(folders.includes('catalog') ? [] : SQL_SELECTORS)],
        'no-restricted-imports': [
          'error',
          { paths: ENGINE_PATHS, patterns: [...ENGINE_PATTERNS, { group: patterns, message }] },
        ],
      },
    };
  });
}

/** The SQL rule where no layer block carries it (the CLI, the demo, main; engine.ts; a folder not yet in LAYERS), and index-store.ts's exemption. */
function catalogSqlBlocks() {
  const restore = layerRule(LAYERS.findIndex((folders) => folders.includes('restore')));
  return [
    {
      files: ['electron/**/*.ts'],
      ignores: LAYERS.flat().map((f) => `electron/engine/${f}/**`),
      rules: { 'no-restricted-syntax': ['error', ...SQL_SELECTORS] },
    },
    {
      files: ['electron/engine/restore/index-store.ts'],
      rules: { 'no-restricted-syntax': ['error', restore.dynamic] },
    },
  ];
}

const NODE_BUILTINS = [
  'fs',
  'path',
  'os',
  'child_process',
  'net',
  'http',
  'https',
  'crypto',
  'stream',
  'worker_threads',
  'zlib',
  'url',
  'util',
  'events',
  'process',
];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-results/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            '*.mjs',
            'bench/*.mjs',
            'bench/*.d.mts',
            'bin/*.cjs',
            'packaging/*.mjs',
            'packaging/*.cjs',
            'packaging/*.d.mts',
            'scripts/*.mjs',
            'scripts/*.d.mts',
            'test/electron/*.mts',
          ],
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 24,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A `default` does not make a switch over a union exhaustive: a new member must be handled where it matters.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'error',
      // Only electron/ipc/register.ts may import ipcMain (one central trusted-sender check).
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'electron',
              importNames: ['ipcMain'],
              message: 'Only electron/ipc/register.ts registers IPC handlers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        __dirname: 'readonly',
        module: 'readonly',
      },
    },
  },
  {
    files: ['electron/ipc/register.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The engine is plain Node shared by the app, the CLI and the tests: never electron.
    files: ['electron/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'electron/engine is plain Node: it must never import electron.' }],
          patterns: [
            { group: ['electron/*'], message: 'electron/engine is plain Node: it must never import electron.' },
            {
              group: [
                '**/main/*',
                '**/ipc/*',
                '!**/shared/ipc/*',
                '**/preload/*',
                '**/cli/*',
                '**/bridge/*',
                '**/renderer/**',
              ],
              message: 'The engine depends on shared/ and Node only.',
            },
          ],
        },
      ],
    },
  },
  {
    // React's rules of hooks (and the React Compiler's checks) on the renderer.
    files: ['renderer/**/*.{ts,tsx}'],
    ...reactHooks.configs.flat['recommended-latest'],
  },
  ...layerBlocks(),
  ...catalogSqlBlocks(),
  {
    // The renderer is a view: it imports only shared/ of our code, and never Node or electron.
    files: ['renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The renderer never touches electron; use the contract.' },
            ...NODE_BUILTINS.map((name) => ({ name, message: 'The renderer never touches files or sockets.' })),
          ],
          patterns: [
            { group: ['node:*'], message: 'The renderer never touches files or sockets.' },
            {
              group: ['**/electron/**', '../../../electron/*', '**/test/**', '**/bench/**'],
              message: 'The renderer imports only shared/.',
            },
          ],
        },
      ],
    },
  },
  {
    // shared/ is imported by every runtime: it imports nothing of ours outside itself.
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'shared/ runs everywhere.' },
            ...NODE_BUILTINS.map((name) => ({ name, message: 'shared/ runs in the renderer too.' })),
          ],
          patterns: [
            { group: ['node:*'], message: 'shared/ runs in the renderer too.' },
            {
              group: ['**/electron/**', '**/renderer/**', '../../electron/*', '../../renderer/*'],
              message: 'shared/ imports nothing of ours outside itself.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
