import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'openbatch-data/**', 'src/api/web/static/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach', 'suite'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // DESIGN.md's arrows, checked: dependencies point inward; SQL only in store/, Docker/Slurm/processes only in runtime/,
  // HTTP only in api/; core/ imports nothing of ours, scheduler/ only core/.
  ...boundaries({
    'src/core/**': { folders: ['api', 'cli', 'runtime', 'scheduler', 'service', 'store'], parents: true },
    'src/scheduler/**': { folders: ['api', 'cli', 'runtime', 'service', 'store'] },
    'src/store/**': { folders: ['api', 'cli', 'runtime', 'scheduler', 'service'] },
    'src/runtime/**': { folders: ['api', 'cli', 'scheduler', 'service', 'store'] },
    'src/service/**': {
      folders: ['api', 'cli', 'runtime', 'store'],
      packages: ['better-sqlite3', 'pg', 'dockerode', 'fastify', 'node:child_process'],
    },
    'src/api/**': {
      folders: ['cli', 'runtime', 'store'],
      packages: ['better-sqlite3', 'pg', 'dockerode', 'node:child_process'],
    },
    'src/cli/**': {
      folders: ['runtime', 'service', 'store', 'scheduler'],
      packages: ['better-sqlite3', 'pg', 'dockerode'],
    },
  }),
);

/** One no-restricted-imports block per folder: the folders (at any depth of ../) and packages it must not import. */
function boundaries(rules) {
  return Object.entries(rules).map(([files, r]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(r.parents ? [{ group: ['../*'], message: 'core/ imports nothing of ours (see DESIGN.md)' }] : []),
            ...r.folders.map((f) => ({
              group: [`../${f}/*`, `../../${f}/*`, `../../../${f}/*`, `./${f}/*`],
              message: `${files.split('/')[1]}/ may not depend on ${f}/ (see DESIGN.md's diagram)`,
            })),
          ],
          paths: (r.packages ?? []).map((name) => ({
            name,
            message: `${files.split('/')[1]}/ may not use ${name} (it lives behind a port; see DESIGN.md)`,
          })),
        },
      ],
    },
  }));
}
