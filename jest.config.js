/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup-temporal-runtime.ts'],
  testTimeout: 60_000,
  // The closing line CI reads ("N passed, N failed"), after jest's own report.
  reporters: ['default', '<rootDir>/test/reporters/closing-line.js'],
  coverageProvider: 'v8',
  maxWorkers: 2,
  workerIdleMemoryLimit: '1500MB',
  collectCoverageFrom: [
    'api/**/*.ts',
    'activities/**/*.ts',
    'policy/**/*.ts',
    'db/**/*.ts',
    'runtime/**/*.ts',
    // The console's logic (API client, formatting, derivations); its React components stay thin.
    'web/src/api/*.ts',
    'web/src/lib/*.ts',
  ],
  coveragePathIgnorePatterns: ['/node_modules/', '/db/migrations/', '/web/src/api/openapi.gen.ts'],
  coverageReporters: ['text-summary', 'json-summary', 'lcov'],
  coverageThreshold: {
    './api/': { lines: 90 },
    './activities/': { lines: 90 },
    './policy/': { lines: 90 },
    './db/': { lines: 90 },
    './web/': { lines: 90 },
  },
};
